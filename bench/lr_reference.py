#!/usr/bin/env python3
# Reference values for tests/lr/test_lr.c: the Framingham preparation of TenSEAL's
# tutorial done with numpy and Python's random module, and the sigma3 twin.
# Run with a Python that has numpy: python3 bench/lr_reference.py
import csv, random, numpy as np
rows=list(csv.reader(open('data/framingham/framingham.csv')))
hdr=rows[0]; rows=rows[1:]
drop=["education","currentSmoker","BPMeds","diabetes","diaBP","BMI"]
keep=[i for i,h in enumerate(hdr) if h not in drop]
names=[hdr[i] for i in keep]
data=[]
for lineno,r in enumerate(rows, start=2):
    if any(x=='NA' for x in r): continue
    v=[r[i] for i in keep]
    data.append((lineno,[float(x) for x in v]))
print(len(data), names)
lab=names.index('TenYearCHD')
g0=[d for d in data if d[1][lab]==0]; g1=[d for d in data if d[1][lab]==1]
print(len(g0),len(g1))
sel=[]
for g in (g0,g1):
    idx=np.random.RandomState(73).choice(len(g),557,replace=False)
    sel+= [g[i] for i in idx]
print('first lines', [s[0] for s in sel[:5]], [s[0] for s in sel[557:562]])
X=np.array([[v for j,v in enumerate(s[1]) if j!=lab] for s in sel]); y=np.array([s[1][lab] for s in sel])
Xs=(X-X.mean(0))/X.std(0,ddof=1)
random.seed(73)
idxs=list(range(len(Xs))); random.shuffle(idxs)
delim=int(len(Xs)*0.3)
test,train=idxs[:delim],idxs[delim:]
print(len(train),len(test),'train first',train[:8],'test first',test[:8])
print('Xs[train[0]]',Xs[train[0]].tolist(), y[train[0]])
print('mean',X.mean(0).tolist()); print('std',X.std(0,ddof=1).tolist())
# plaintext LR as tutorial: full batch GD lr 1, 5 epochs, exact sigmoid, BCE... tutorial plain uses torch SGD on BCELoss
Xtr,ytr,Xte,yte=Xs[train],y[train],Xs[test],y[test]

print('TEST0', Xte[0].tolist(), yte[0]); print('TRAINLAST', Xtr[-1].tolist(), ytr[-1])
print('ytr sum', ytr.sum(), 'yte sum', yte.sum())
# plaintext GD as the tutorial encrypted twin: w0 = 0, lr 1, update w <- w - (dw/m + 0.05 w), poly3
for kind in ('exact','poly3'):
    w=np.zeros(9); b=0.0
    for ep in range(5):
        z=Xtr@w+b
        yh= 1/(1+np.exp(-z)) if kind=='exact' else 0.5+0.197*z-0.004*z**3
        e=yh-ytr; m=len(ytr)
        gw=Xtr.T@e/m + 0.05*w; gb=e.sum()/m
        w=w-gw; b=b-gb
    acc=(((1/(1+np.exp(-(Xte@w+b))))>=0.5)==yte).mean()
    print(kind, 'acc', acc, 'w', w.tolist(), b)
