package gui

import (
	"strings"

	"noroshi/app"
)

// phrase says an error from app in the UI's language. app's validation
// errors are typed (app.FieldError: which field, what is wrong); they are
// phrased here with the form's own words, from the translations: first a
// sentence for the field and reason ("fielderror.tlp.not-allowed"), with
// the other field when there is one ("fielderror.to.not-allowed.tlp"), else
// one for the reason with the field's label ("fielderror.required"). Other
// errors show as app words them.
func phrase(err error) string {
	fe, ok := app.AsFieldError(err)
	if !ok {
		return err.Error()
	}
	if fe.Reason == app.ReasonNotDemo {
		return Tf("demo.not_demo", fe.Value)
	}
	base := "fielderror." + string(fe.Field) + "." + string(fe.Reason)
	keys := []string{base}
	if fe.With != "" {
		keys = []string{base + "." + string(fe.With), base}
	}
	for _, k := range keys {
		if _, ok := englishText(k); ok {
			if fe.Reason == app.ReasonTooShort {
				return Tf(k, fe.Min)
			}
			return T(k)
		}
	}
	label := fieldLabel(fe.Field)
	switch fe.Reason {
	case app.ReasonRequired:
		return Tf("fielderror.required", label)
	case app.ReasonOneRequired:
		labels := []string{label}
		for _, f := range fe.Also {
			labels = append(labels, fieldLabel(f))
		}
		return Tf("fielderror.one-required", strings.Join(labels, T("fielderror.list_sep")))
	case app.ReasonTooLong:
		return Tf("fielderror.too-long", label, fe.Max)
	case app.ReasonTooShort:
		return Tf("fielderror.too-short", label, fe.Min)
	case app.ReasonNotText:
		return Tf("fielderror.not-text", label)
	case app.ReasonUnknownValue:
		return Tf("fielderror.unknown-value", label, fe.Value)
	case app.ReasonNotAllowed:
		return Tf("fielderror.not-allowed", label)
	case app.ReasonExactlyOne:
		return Tf("fielderror.exactly-one", label)
	case app.ReasonExists:
		return Tf("fielderror.exists", label)
	case app.ReasonMalformed:
		return Tf("fielderror.malformed", label)
	}
	return err.Error()
}

// fieldLabel is a field's name as the forms show it.
func fieldLabel(f app.Field) string {
	if _, ok := englishText("field." + string(f)); ok {
		return T("field." + string(f))
	}
	return string(f)
}
