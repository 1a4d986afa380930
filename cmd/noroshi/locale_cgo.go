//go:build !nogui && linux && cgo

package main

// Fyne reads the locale from LC_ALL, LC_MESSAGES or LANG and fails to parse
// "C.UTF-8" (Debian containers' default; "C" alone it takes for English):
// it logs "Fyne error: Error parsing user locale C" from the init function
// of fyne.io/fyne/v2/lang (lang.go, init -> updateLocalizer ->
// closestSupportedLocale), which runs before any package of ours, and again
// whenever translations are loaded or the window asks for the system
// locale. So this C constructor, which runs when the process loads, before
// the Go runtime copies the environment, points the variable that decides
// the locale at "C" for the length of Go's package initialisation; main's
// init (fixLocale) then puts the value back and sets LANGUAGE to English,
// which Fyne reads first and the C library ignores under the C locale, so
// programs started from the app see the environment unchanged.

/*
#include <stdlib.h>
#include <string.h>

extern char **environ;

static char *noroshi_locale_var;   // "LANG=C.UTF-8", as the process got it
static char noroshi_locale_c[32];  // "LANG=C", in its place until main's init

__attribute__((constructor)) static void noroshi_fix_locale(void) {
	static const char *names[] = {"LC_ALL=", "LC_MESSAGES=", "LANG="};
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(names[i]);
		for (char **e = environ; e != NULL && *e != NULL; e++) {
			if (strncmp(*e, names[i], n) != 0 || (*e)[n] == '\0') {
				continue;
			}
			const char *v = *e + n;
			if (strncmp(v, "C.", 2) == 0 || strncmp(v, "POSIX.", 6) == 0) {
				noroshi_locale_var = *e;
				memcpy(noroshi_locale_c, names[i], n);
				noroshi_locale_c[n] = 'C';
				noroshi_locale_c[n + 1] = '\0';
				*e = noroshi_locale_c;
			}
			return; // the first variable set decides, as in Fyne
		}
	}
}

static const char *noroshi_locale_original(void) { return noroshi_locale_var; }
*/
import "C"

import (
	"os"
	"strings"
)

func init() { fixLocale() }

// fixLocale puts back the locale variable the constructor replaced, with
// LANGUAGE set so that Fyne reads a language it can parse.
func fixLocale() {
	orig := C.noroshi_locale_original()
	if orig == nil {
		return
	}
	name, value, ok := strings.Cut(C.GoString(orig), "=")
	if !ok {
		return
	}
	os.Setenv(name, value)
	if os.Getenv("LANGUAGE") == "" {
		os.Setenv("LANGUAGE", "en")
	}
}
