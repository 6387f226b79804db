#!/usr/bin/env bash
# CLI tests: run the built henn binary, check exit codes, outputs and files.
set -u
HENN=${1:?usage: test_cli.sh path/to/henn data-dir}
DATA=${2:?usage: test_cli.sh path/to/henn data-dir}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# expect STATUS DESCRIPTION -- command...
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$dir/out" 2>"$dir/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, wanted $want"; cat "$dir/err" >&2; fi
}

cd "$dir" || exit 1

expect 0 "help" -- "$HENN" --help
grep -q "keygen" out && ok || bad "help lists keygen"
for w in "  serve " "--server URL" "cryptonn authority" "bench fe"; do
    grep -q -- "$w" out && ok || bad "help lists '$w'"
done
expect 2 "no command" -- "$HENN"
grep -q -- "--server URL" err && ok || bad "usage on stderr has both halves"
expect 2 "unknown command" -- "$HENN" frobnicate
expect 0 "version" -- "$HENN" version

# keys: 2048 bits, private key file mode 0600, public key in python-paillier's JWK form
expect 0 "keygen" -- "$HENN" keygen --id test --public pub.json priv.json
[ "$(stat -c %a priv.json)" = 600 ] && ok || bad "private key mode is $(stat -c %a priv.json)"
grep -q '"kty": "DAJ", "alg": "PAI-GN1", "key_ops": \["encrypt"\], "n": "' pub.json && ok || bad "public key format"
grep -q '"key_ops": \["decrypt"\], "p": ' priv.json && ok || bad "private key format"
expect 0 "extract" -- "$HENN" extract priv.json pub2.json
[ "$(grep -o '"n": "[^"]*"' pub.json)" = "$(grep -o '"n": "[^"]*"' pub2.json)" ] && ok || bad "extract gives the same public key"
expect 2 "keygen 1024 refused" -- "$HENN" keygen --bits 1024 small.json
[ ! -e small.json ] && ok || bad "no key file after refusal"
expect 0 "keygen 512 insecure" -- "$HENN" keygen --bits 512 --insecure-test-key small.json

# encrypt / decrypt / add / multiply, as pheutil
expect 0 "encrypt" -- "$HENN" encrypt --output a.json pub.json 2.5
grep -q '"e": -32}' a.json && ok || bad "exponent lowered to -32"
expect 0 "encrypt negative" -- "$HENN" encrypt --output b.json pub.json -- -0.75
expect 0 "decrypt" -- "$HENN" decrypt priv.json a.json
[ "$(cat out)" = "2.5" ] && ok || bad "decrypt a: $(cat out)"
expect 0 "add" -- "$HENN" add --output s.json pub.json a.json b.json
expect 0 "decrypt sum" -- "$HENN" decrypt priv.json s.json
[ "$(cat out)" = "1.75" ] && ok || bad "2.5 + -0.75 = $(cat out)"
expect 0 "add plain" -- "$HENN" add --output t.json pub.json a.json --plain 10
expect 0 "decrypt" -- "$HENN" decrypt priv.json t.json
[ "$(cat out)" = "12.5" ] && ok || bad "2.5 + 10 = $(cat out)"
expect 0 "multiply" -- "$HENN" multiply --output m.json pub.json b.json -4
expect 0 "decrypt product" -- "$HENN" decrypt priv.json m.json
[ "$(cat out)" = "3.0" ] && ok || bad "-0.75 * -4 = $(cat out)"
cmp -s a.json s.json && bad "sum equals input" || ok

# bad input: clear message, non-zero exit, no crash
expect 2 "not a number" -- "$HENN" encrypt pub.json abc
expect 2 "nan" -- "$HENN" encrypt pub.json nan
expect 1 "missing key file" -- "$HENN" encrypt nothere.json 1
grep -q "cannot read public key" err && ok || bad "message for missing file"
echo '{"kty": "DAJ", "alg": "PAI-GN1", "n": "AQAB"' >trunc.json
expect 1 "truncated key" -- "$HENN" encrypt trunc.json 1
grep -q "not a valid Paillier public key" err && ok || bad "message for truncated key"
echo '{"v": "0", "e": 0}' >zero.json
expect 1 "ciphertext 0" -- "$HENN" decrypt priv.json zero.json
grep -q "HENN_ERANGE" err && ok || bad "ciphertext 0 gives HENN_ERANGE"
echo '{"v": 5, "e": 0}' >wrongtype.json
expect 1 "ciphertext wrong type" -- "$HENN" decrypt priv.json wrongtype.json
grep -q "HENN_EFORMAT" err && ok || bad "wrong type gives HENN_EFORMAT"
expect 1 "public key as private key" -- "$HENN" decrypt pub.json a.json
# python-paillier's ciphertext JSON names no key; a ciphertext too large for the
# key it is used with is still caught
expect 1 "ciphertext outside a smaller key's group" -- "$HENN" decrypt --insecure-test-key small.json a.json
grep -q "HENN_ERANGE" err && ok || bad "too large ciphertext gives HENN_ERANGE"
expect 2 "unknown option" -- "$HENN" encrypt --frob pub.json 1
expect 2 "missing args" -- "$HENN" add pub.json a.json

# issue 7 item 5: numbers as Python's float() reads them, printed as pheutil prints them
dec() { "$HENN" encrypt --output x.json pub.json -- "$1" && "$HENN" decrypt priv.json x.json; }
for pair in "-10|-10.0" "1500|1500.0" "1e15|1000000000000000.0" "1e16|1e+16" "1.5e-05|1.5e-05" \
    "5e-324|5e-324" "1e-310|1e-310" "2.225073858507201e-308|2.225073858507201e-308" \
    " 1_000.5 |1000.5" "0.1|0.1" "1e-5|1e-05" "0.0001|0.0001" "123456789012345678|1.2345678901234568e+17" \
    "-0|0.0" "1.7976931348623157e308|1.7976931348623157e+308"; do
    got=$(dec "${pair%%|*}" 2>/dev/null)
    [ "$got" = "${pair#*|}" ] && ok || bad "'${pair%%|*}' decrypts to '$got', wanted '${pair#*|}'"
done
for v in 0x10 1__0 _1 1_ 1_.5 1._5 1e_5 "" . e5 1e abc; do
    expect 2 "'$v' is not a number" -- "$HENN" encrypt pub.json -- "$v"
    grep -q "is not a number" err && ok || bad "message for '$v'"
done
for v in inf -Infinity nan 1e400; do
    expect 2 "'$v' is not finite" -- "$HENN" encrypt pub.json -- "$v"
    grep -q "is not a finite number" err && ok || bad "message for '$v'"
done
# a ciphertext with another exponent: the same "v" read as mantissa * 16^e
setexp() { sed "s/\"e\": -\?[0-9]*}/\"e\": $2}/" "$1"; }
# integer plaintexts (exponent >= 0) print exactly, as Python's int
"$HENN" encrypt --output one.json pub.json 1 2>/dev/null
setexp one.json 0 >int0.json
expect 0 "decrypt an integer ciphertext" -- "$HENN" decrypt priv.json int0.json
[ "$(cat out)" = 340282366920938463463374607431768211456 ] && ok || bad "2^128 printed as $(cat out)"
"$HENN" encrypt --output big.json pub.json 1152921504606846976 2>/dev/null
setexp big.json 0 >int1.json
expect 0 "decrypt an integer beyond 2^53" -- "$HENN" decrypt priv.json int1.json
[ "$(cat out)" = 392318858461667547739736838950479151006397215279002157056 ] && ok || bad "2^188 printed as $(cat out)"
setexp one.json 1 >int2.json
expect 0 "integer at exponent 1" -- "$HENN" decrypt priv.json int2.json
[ "$(cat out)" = 5444517870735015415413993718908291383296 ] && ok || bad "2^132 printed as $(cat out)"
# exponent alignment: python-paillier's limit (16^gap <= max_int) and the CLI's floor
"$HENN" encrypt --output max.json pub.json 1.7976931348623157e308 2>/dev/null
"$HENN" encrypt --output tiny.json pub.json 5e-324 2>/dev/null
grep -q '"e": -282}' tiny.json && ok || bad "5e-324 has exponent -282"
setexp max.json 242 >max242.json
expect 1 "DBL_MAX (e 242) + 5e-324 (e -282) refused" -- "$HENN" add pub.json max242.json tiny.json
grep -q "16^gap must not exceed max_int" err && ok || bad "gap message: $(cat err)"
expect 1 "DBL_MAX (e -32) + 5e-324 (e -282) refused" -- "$HENN" add pub.json max.json tiny.json
grep -q "below -223" err && ok || bad "floor message: $(cat err)"
setexp tiny.json -600 >tiny600.json
setexp one.json 0 >three0.json
expect 1 "E(e 0) + E(e -600) refused" -- "$HENN" addenc pub.json three0.json tiny600.json
expect 1 "E(1) + 1e-300 refused (exponent -263)" -- "$HENN" add pub.json one.json --plain 1e-300
expect 0 "same exponent: 5e-324 + 5e-324" -- "$HENN" add -o tt.json pub.json tiny.json tiny.json
expect 0 "decrypt 1e-323" -- "$HENN" decrypt priv.json tt.json
[ "$(cat out)" = 1e-323 ] && ok || bad "5e-324 + 5e-324 = $(cat out)"
expect 1 "multiply below the floor refused" -- "$HENN" multiply pub.json tiny.json 0.5
setexp one.json -16777216 >low.json
expect 0 "decrypt at exponent -2^24" -- "$HENN" decrypt priv.json low.json
expect 1 "multiply beyond -2^24 refused" -- "$HENN" multiply pub.json low.json 0.5
grep -q "outside +-2^24" err && ok || bad "exponent limit message"
setexp one.json 600 >e600.json
expect 1 "result at exponent 600 cannot be lowered to -32" -- "$HENN" addenc pub.json e600.json e600.json
grep -q "cannot lower the result's exponent from 600" err && ok || bad "lowering message"
# a public key whose n is a bare JSON number is not a key
sed 's/"n": "[^"]*"/"n": 25195908475657893494027183240048398571429282126204032027777137836043662020707595556264018525880784406918290641249515082189298559149176184502808489120072844992687392807287776735971418347270261896375014971824691165077613379859095700097330459748808428401797429100642458691817195118746121515172654632282216869987549182422433637259085141865462043576798423387184774447920739934236584823824281198163815010674810451660377306056201619676256133844143603833904414952634432190114657544454178424020924616515723350778707749817125772467962926386356373289912154831438167899885040445364023527381951378636564391212010397122822120720357/' pub.json >numn.json
expect 1 "bare-number n refused" -- "$HENN" encrypt numn.json 1
grep -q "not a valid Paillier public key" err && ok || bad "bare-number n message"
# key ids as json.dumps writes them
expect 0 "keygen with a non-ASCII id" -- "$HENN" keygen --id "café 😀" --public pubu.json privu.json
grep -q '"kid": "caf\\u00e9 \\ud83d\\ude00"}' pubu.json && ok || bad "kid escapes: $(cat pubu.json)"
expect 1 "id that is not UTF-8" -- "$HENN" keygen --id "$(printf 'a\377')" privbad.json
[ ! -e privbad.json ] && ok || bad "no key file for a bad id"
# pheutil's verbs and argument forms
expect 0 "pheutil add PUB CT NUMBER" -- "$HENN" add --output p1.json pub.json a.json 10
expect 0 "decrypt" -- "$HENN" decrypt priv.json p1.json
[ "$(cat out)" = "12.5" ] && ok || bad "pheutil add: $(cat out)"
expect 0 "pheutil addenc" -- "$HENN" addenc pub.json a.json b.json --output p2.json
expect 0 "decrypt" -- "$HENN" decrypt priv.json p2.json
[ "$(cat out)" = "1.75" ] && ok || bad "addenc: $(cat out)"
expect 0 "pheutil -v, genpkey --keysize, files and '-'" -- "$HENN" -v genpkey --keysize 2048 priv3.json
expect 0 "ciphertext from stdin" -- sh -c "\"$HENN\" multiply pub.json - -- -4 <b.json >p3.json"
expect 0 "decrypt from stdin" -- sh -c "\"$HENN\" decrypt priv.json - <p3.json"
[ "$(cat out)" = "3.0" ] && ok || bad "stdin multiply: $(cat out)"
cp a.json 7
expect 2 "a number that is also a file is ambiguous" -- "$HENN" add pub.json a.json 7
expect 0 "./7 names the file" -- "$HENN" add pub.json a.json ./7
expect 2 "addenc takes no number" -- "$HENN" addenc pub.json a.json --plain 1

# issue 7 item 6: key files never overwrite or follow links; plaintext files are 0600
expect 1 "keygen over an existing file" -- "$HENN" keygen priv.json
grep -q "already exists" err && ok || bad "existing file message"
ln -s victim.json link.json
expect 1 "keygen through a symlink refused" -- "$HENN" keygen link.json
[ ! -e victim.json ] && ok || bad "keygen wrote through a symlink"
expect 1 "extract over an existing file" -- "$HENN" extract priv.json pub.json
expect 0 "keygen --force replaces the link itself" -- "$HENN" keygen --force link.json
[ ! -e victim.json ] && [ -f link.json ] && [ ! -L link.json ] && ok || bad "--force followed the link"
[ "$(stat -c %a link.json)" = 600 ] && ok || bad "forced key mode $(stat -c %a link.json)"
ls link.json.* >/dev/null 2>&1 && bad "temporary file left" || ok
expect 0 "decrypt --output" -- "$HENN" decrypt --output plain.txt priv.json a.json
[ "$(stat -c %a plain.txt)" = 600 ] && ok || bad "plaintext file mode $(stat -c %a plain.txt)"
[ "$(cat plain.txt)" = 2.5 ] && ok || bad "plaintext file: $(cat plain.txt)"
echo old >plain2.txt && chmod 644 plain2.txt
expect 0 "decrypt --output over a 0644 file" -- "$HENN" decrypt --output plain2.txt priv.json a.json
[ "$(stat -c %a plain2.txt)" = 600 ] && [ "$(cat plain2.txt)" = 2.5 ] && ok || bad "existing plaintext file not 0600"

# bench prints JSON lines with the required fields (small key: quick)
expect 0 "bench" -- "$HENN" bench paillier --bits 512 --insecure-test-key --threads 2 --json --seconds 0.02
for op in keygen encrypt_textbook encrypt encrypt_keyholder decrypt add mul_plain_32bit packed_encrypt; do
    grep -q "\"op\":\"$op\",\"bits\":512,\"threads\":1,\"ops_per_s\":" out && ok || bad "bench line for $op"
done
grep -q '"op":"encrypt".*"ratio":' out && ok || bad "bench ratio"
grep -q '"op":"encrypt_batch","bits":512,"threads":2' out && ok || bad "bench threads"
expect 2 "bench unknown scheme" -- "$HENN" bench frobnicate

# demo (the README's main job) on a small run
expect 0 "demo" -- "$HENN" demo --count 2000
grep -q "all equal the plaintext sums" out && ok || bad "demo result"

# kdd: bad arguments
expect 2 "kdd no subcommand" -- "$HENN" kdd
expect 2 "kdd unknown option" -- "$HENN" kdd train --frob
expect 2 "kdd bad rows" -- "$HENN" kdd train --rows abc
expect 2 "kdd bad hidden" -- "$HENN" kdd train --hidden 0,5000
expect 2 "kdd small key without the flag" -- "$HENN" kdd train --encrypted --bits 512
expect 2 "kdd missing value" -- "$HENN" kdd train --lr
expect 0 "kdd help" -- "$HENN" kdd --help
grep -q -- "--encrypted" out && ok || bad "kdd help lists --encrypted"
# kdd: bad files name the file, line and field
row='0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00'
{ for i in $(seq 1 40); do echo "$row,normal."; echo "$row,smurf."; done; echo "$row,frobnicate."; } >bad.txt
expect 1 "kdd unknown label" -- "$HENN" kdd train --train bad.txt --test bad.txt
grep -q "bad.txt:81: field 42: unknown label 'frobnicate.'" err && ok || bad "kdd error names file, line, field"
expect 1 "kdd missing file" -- "$HENN" kdd train --train nonexistent.gz
grep -q "nonexistent.gz" err && ok || bad "kdd missing file named"
head -c 3000 "$DATA/kddcup99/corrected.gz" >trunc.gz
expect 1 "kdd truncated gzip" -- "$HENN" kdd train --train trunc.gz
# --skip-bad: the same file trains, and the skipped row is counted
expect 0 "kdd skip-bad" -- "$HENN" kdd train --train bad.txt --test bad.txt --skip-bad --max-bad 2 --rows 0 --json m.json
grep -q "skipped 1 malformed rows" err && ok || bad "kdd skip count"
grep -q '"accuracy"' m.json && ok || bad "kdd json"
# a small plaintext and encrypted run on the bundled data; model file round trip
expect 0 "kdd train encrypted (test key)" -- "$HENN" kdd train --encrypted --bits 768 --insecure-test-key \
    --features intcode --rows 300 --test-rows 2000 --infer-rows 60 --json k.json --model k.model
grep -q "inference = plaintext" out && ok || bad "kdd table"
grep -q '"encrypted": true' k.json && ok || bad "kdd json encrypted run"
grep -q '"confusion"' k.json && ok || bad "kdd json confusion matrix"
# the owner's decryption budget: the honest count by default, refusal beyond it
expect 1 "kdd decrypt budget too small" -- "$HENN" kdd train --encrypted --bits 768 --insecure-test-key \
    --features intcode --rows 120 --test-rows 200 --infer-rows 10 --decrypt-budget 50 \
    --protocol published
grep -q "budget of 50 ciphertexts" err && ok || bad "kdd decrypt budget message"
expect 2 "kdd bad decrypt budget" -- "$HENN" kdd train --decrypt-budget -1
expect 0 "kdd eval" -- "$HENN" kdd eval --model k.model --test-rows 2000 --encrypted --bits 768 --insecure-test-key --infer-rows 30
grep -q "encrypted inference: 30 records" out && ok || bad "kdd eval encrypted"
head -c 100 k.model >cut.model
expect 1 "kdd eval truncated model" -- "$HENN" kdd eval --model cut.model
grep -q "not a henn KDD model file" err && ok || bad "kdd eval message"
expect 2 "kdd eval without model" -- "$HENN" kdd eval

# CKKS: keygen / encrypt / decrypt round trip, file modes, refusals
# ckks_close FILE V1 V2 ...: FILE has exactly these lines, numbers within
# 1e-4 of V, '-' for an empty line
ckks_close() {
    local f=$1
    shift
    awk -v want="$*" 'BEGIN { n = split(want, w, " ") }
        { i++; if (w[i] == "-") { if ($0 != "") bad = 1 }
               else if ($0 == "" || ($1 - w[i]) ^ 2 > 1e-8) bad = 1 }
        END { exit (bad || i != n) }' "$f"
}
expect 0 "ckks keygen" -- "$HENN" ckks keygen --dir ck --N 4096 --primes 36,30,36 --steps 1,-1
for f in params public relin galois secret; do
    [ -s "ck/$f.bin" ] && ok || bad "ckks keygen wrote $f.bin"
done
[ "$(stat -c %a ck/secret.bin)" = 600 ] && ok || bad "ckks secret key mode $(stat -c %a ck/secret.bin)"
[ "$(stat -c %a ck)" = 700 ] && ok || bad "ckks key directory mode $(stat -c %a ck)"
cp ck/secret.bin sk.keep
expect 1 "ckks keygen keeps existing files" -- "$HENN" ckks keygen --dir ck --N 4096 --primes 36,30,36
grep -q "already exists; not overwritten" err && ok || bad "ckks keygen existing-file message"
cmp -s ck/secret.bin sk.keep && ok || bad "ckks secret key overwritten"
mkdir ckl && ln -s "$dir/target" ckl/secret.bin
expect 1 "ckks keygen does not follow a link" -- "$HENN" ckks keygen --dir ckl --N 4096 --primes 36,30,36
[ ! -e target ] && ok || bad "ckks keygen wrote through a symbolic link"
printf '0.5,-0.25,0.125\n\n1, -2, 3.75, 1e-3\n' >v.csv
expect 0 "ckks encrypt" -- "$HENN" ckks encrypt --params ck/params.bin --pk ck/public.bin --in v.csv --out v.ct --scale-bits 30
expect 0 "ckks decrypt" -- "$HENN" ckks decrypt --params ck/params.bin --sk ck/secret.bin --in v.ct --count 4
ckks_close out 0.5 -0.25 0.125 0 - 1 -2 3.75 0.001 && ok || { bad "ckks round trip"; cat out >&2; }
expect 0 "ckks encrypt symmetric" -- "$HENN" ckks encrypt --params ck/params.bin --sk ck/secret.bin --in v.csv --out s.ct
[ $(( $(stat -c %s s.ct) * 100 )) -lt $(( $(stat -c %s v.ct) * 51 )) ] && ok || bad "ckks symmetric ciphertexts are not half the size"
expect 0 "ckks decrypt symmetric" -- "$HENN" ckks decrypt --params ck/params.bin --sk ck/secret.bin --in s.ct --count 3 --out s.txt
ckks_close s.txt 0.5 -0.25 0.125 - 1 -2 3.75 && ok || { bad "ckks symmetric round trip"; cat s.txt >&2; }
[ "$(stat -c %a s.txt)" = 600 ] && ok || bad "ckks decrypt --out mode $(stat -c %a s.txt)"
# damaged input: clear message, exit 1, nothing printed
head -c 5000 v.ct >cut.ct
expect 1 "ckks decrypt truncated" -- "$HENN" ckks decrypt --params ck/params.bin --sk ck/secret.bin --in cut.ct
grep -q "cut.ct: not a valid CKKS ciphertext" err && ok || bad "ckks truncated message: $(cat err)"
[ ! -s out ] && ok || bad "ckks decrypt printed from a truncated file"
head -c $(( $(stat -c %s v.ct) - 1 )) v.ct >cut2.ct
expect 1 "ckks decrypt truncated second" -- "$HENN" ckks decrypt --params ck/params.bin --sk ck/secret.bin --in cut2.ct
grep -q "ciphertext 2 .*truncated or damaged" err && ok || bad "ckks second-ciphertext message: $(cat err)"
expect 1 "ckks decrypt of a key file" -- "$HENN" ckks decrypt --params ck/params.bin --sk ck/secret.bin --in ck/public.bin
head -c 20 ck/params.bin >cut.params
expect 1 "ckks truncated params" -- "$HENN" ckks decrypt --params cut.params --sk ck/secret.bin --in v.ct
grep -q "not a valid CKKS parameter file" err && ok || bad "ckks params message"
expect 0 "ckks keygen other params" -- "$HENN" ckks keygen --dir ck2 --N 4096 --primes 36,25,36 --steps none
expect 1 "ckks decrypt with other params" -- "$HENN" ckks decrypt --params ck2/params.bin --sk ck2/secret.bin --in v.ct
grep -q "other CKKS parameters (HENN_EKEY)" err && ok || bad "ckks other-params message"
expect 1 "ckks secret key of other params" -- "$HENN" ckks decrypt --params ck/params.bin --sk ck2/secret.bin --in v.ct
# damaged key files: truncated, empty, wrong kind, out-of-range content, missing
head -c $(( $(stat -c %s ck/secret.bin) - 1 )) ck/secret.bin >cut.sk
expect 1 "ckks truncated secret key" -- "$HENN" ckks decrypt --params ck/params.bin --sk cut.sk --in v.ct
grep -q "cut.sk: not a valid CKKS secret key" err && ok || bad "ckks truncated sk message: $(cat err)"
[ ! -s out ] && ok || bad "ckks decrypt printed with a truncated key"
cp ck/secret.bin bad.sk && printf '\377' | dd of=bad.sk bs=1 seek=$(( $(stat -c %s ck/secret.bin) - 1 )) conv=notrunc 2>/dev/null
expect 1 "ckks secret key with a coefficient code 3" -- "$HENN" ckks decrypt --params ck/params.bin --sk bad.sk --in v.ct
grep -q "bad.sk: not a valid CKKS secret key.*HENN_EFORMAT" err && ok || bad "ckks bad sk message: $(cat err)"
: >empty.bin
expect 1 "ckks empty secret key" -- "$HENN" ckks decrypt --params ck/params.bin --sk empty.bin --in v.ct
grep -q "empty.bin: not a valid CKKS secret key" err && ok || bad "ckks empty sk message: $(cat err)"
expect 1 "ckks public key given as secret key" -- "$HENN" ckks decrypt --params ck/params.bin --sk ck/public.bin --in v.ct
grep -q "public.bin: not a valid CKKS secret key" err && ok || bad "ckks pk-as-sk message: $(cat err)"
expect 1 "ckks missing secret key" -- "$HENN" ckks decrypt --params ck/params.bin --sk nosuch.bin --in v.ct
grep -q "cannot read secret key nosuch.bin" err && ok || bad "ckks missing sk message: $(cat err)"
head -c 1000 ck/public.bin >cut.pk
expect 1 "ckks truncated public key" -- "$HENN" ckks encrypt --params ck/params.bin --pk cut.pk --in v.csv --out x.ct
grep -q "cut.pk: not a valid CKKS public key" err && ok || bad "ckks truncated pk message: $(cat err)"
[ ! -e x.ct ] && ok || bad "ckks encrypt wrote output with a truncated key"
cp ck/public.bin bad.pk && head -c 8 /dev/zero | tr '\0' '\377' | dd of=bad.pk bs=1 seek=$(( $(stat -c %s ck/public.bin) - 8 )) conv=notrunc 2>/dev/null
expect 1 "ckks public key with a residue above its prime" -- "$HENN" ckks encrypt --params ck/params.bin --pk bad.pk --in v.csv --out x.ct
grep -q "bad.pk: not a valid CKKS public key.*HENN_EFORMAT" err && ok || bad "ckks bad pk message: $(cat err)"
expect 1 "ckks public key of other params" -- "$HENN" ckks encrypt --params ck/params.bin --pk ck2/public.bin --in v.csv --out x.ct
grep -q "other CKKS parameters (HENN_EKEY)" err && ok || bad "ckks other-params pk message: $(cat err)"
cp ck/params.bin bad.params && printf '\002' | dd of=bad.params bs=1 seek=8 conv=notrunc 2>/dev/null
expect 1 "ckks params of a future version" -- "$HENN" ckks decrypt --params bad.params --sk ck/secret.bin --in v.ct
grep -q "not a valid CKKS parameter file" err && ok || bad "ckks version message: $(cat err)"
# the security guard, bad options and CSV
expect 2 "ckks insecure params refused" -- "$HENN" ckks keygen --dir ck3 --N 4096 --primes 60,60
grep -q "128-bit security bound" err && ok || bad "ckks guard message"
[ ! -e ck3 ] && ok || bad "ckks refused keygen left a directory"
expect 0 "ckks insecure test params" -- "$HENN" ckks keygen --dir ck3 --N 4096 --primes 60,60 --steps none --insecure-test-params
expect 2 "ckks insecure params file refused" -- "$HENN" ckks encrypt --params ck3/params.bin --pk ck3/public.bin --in v.csv --out x.ct
expect 2 "ckks bad primes" -- "$HENN" ckks keygen --dir ck4 --primes 60,70
expect 2 "ckks bad N" -- "$HENN" ckks keygen --dir ck4 --N 5000
expect 2 "ckks unknown command" -- "$HENN" ckks frobnicate
expect 2 "ckks encrypt without key" -- "$HENN" ckks encrypt --params ck/params.bin --in v.csv --out x.ct
printf '1,abc\n' >bad.csv
expect 1 "ckks bad csv" -- "$HENN" ckks encrypt --params ck/params.bin --pk ck/public.bin --in bad.csv --out x.ct
grep -q "bad.csv:1: field 2: 'abc' is not a number" err && ok || bad "ckks csv message"
seq -s, 1 2049 >long.csv
expect 1 "ckks too many values" -- "$HENN" ckks encrypt --params ck/params.bin --pk ck/public.bin --in long.csv --out x.ct
grep -q "more than 2048 values" err && ok || bad "ckks slot count message"
expect 0 "ckks help" -- "$HENN" ckks --help
expect 0 "bench ckks quick" -- "$HENN" bench ckks --quick --json --config D
grep -q '"op":"rotate_1".*"seal_us":465,"ratio_to_seal"' out && ok || bad "bench ckks op line"
grep -q '"op":"precision".*"fresh_bits"' out && ok || bad "bench ckks precision line"

echo "test_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
