/*
 * henn/version.h: library version.
 *
 * HENN_VERSION_STRING is the version of the headers; henn_version_string()
 * returns the version of the library that was linked, so a program can check
 * that both agree.
 */
#ifndef HENN_VERSION_H
#define HENN_VERSION_H

#define HENN_VERSION_MAJOR 0
#define HENN_VERSION_MINOR 1
#define HENN_VERSION_PATCH 0
#define HENN_VERSION_STRING "0.1.0"

#endif
