package gui

import (
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	"fyne.io/fyne/v2/lang"
)

//go:embed translation/*.json
var translations embed.FS

// Languages the UI speaks, by code, with their own names (never translated).
var Languages = []struct{ Code, Name string }{{"ja", "日本語"}, {"en", "English"}}

var (
	englishOnce sync.Once
	english     map[string]string
)

// englishText returns the English text of key, the fallback when the chosen
// language lacks it.
func englishText(key string) (string, bool) {
	englishOnce.Do(func() {
		b, err := translations.ReadFile("translation/en.json")
		if err == nil {
			err = json.Unmarshal(b, &english)
		}
		if err != nil {
			english = map[string]string{}
		}
	})
	s, ok := english[key]
	return s, ok
}

// T returns the text of a translation key in the current language.
func T(key string) string {
	fallback, ok := englishText(key)
	if !ok {
		fallback = key
	}
	return lang.X(key, fallback)
}

// Tf formats the text of a translation key with fmt verbs.
func Tf(key string, args ...any) string { return fmt.Sprintf(T(key), args...) }

// Tn formats the text of a count: key+".one" for 1 (English "1 person"),
// key for any other number; n is the first argument. Both translations
// have both keys (Japanese says them the same).
func Tn(key string, n int, args ...any) string {
	if n == 1 {
		key += ".one"
	}
	return Tf(key, append([]any{n}, args...)...)
}

// SetLanguage selects the UI language: "ja", "en", or "" for the system's.
// Fyne's lang package takes the language from the environment, so the
// choice is put there (LANGUAGE, which gettext and Fyne read first) before
// the translations are loaded again; the fonts that Fyne looks up for the
// language follow it too.
func SetLanguage(code string) error {
	origOnce.Do(func() {
		for _, v := range localeVars {
			val, ok := os.LookupEnv(v)
			origEnv[v] = envValue{val, ok}
		}
	})
	// Back to the system's choice first.
	for v, o := range origEnv {
		if o.set {
			os.Setenv(v, o.value)
		} else {
			os.Unsetenv(v)
		}
	}
	if code != "" {
		os.Setenv("LANGUAGE", code)
		// LANGUAGE is ignored when the locale is C or POSIX.
		for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
			if cur := os.Getenv(v); cur != "" {
				if cur == "C" || cur == "POSIX" {
					os.Setenv(v, code+".UTF-8")
				}
				break
			}
		}
	}
	return lang.AddTranslationsFS(translations, "translation")
}

// The locale variables as the process started, restored when the user goes
// back to the system's language.
var (
	localeVars = []string{"LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"}
	origOnce   sync.Once
	origEnv    = map[string]envValue{}
)

type envValue struct {
	value string
	set   bool
}

// CurrentLanguage returns the code of the language the UI speaks now.
func CurrentLanguage() string {
	if strings.HasPrefix(T("lang.code"), "ja") {
		return "ja"
	}
	return "en"
}
