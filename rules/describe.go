package rules

import (
	"fmt"
	"strings"

	"github.com/signindiag/signindiag/schemas"
)

// Helpers that phrase sign-in facts for an admin reading a finding.

func who(si *schemas.SignIn) string {
	switch {
	case si.UserPrincipalName != "":
		return si.UserPrincipalName
	case si.UserDisplayName != "":
		return si.UserDisplayName
	case si.ServicePrincipalName != "":
		return "service principal " + si.ServicePrincipalName
	case si.UserID != "":
		return "user " + si.UserID
	}
	return "service principal " + si.ServicePrincipalID
}

func app(si *schemas.SignIn) string {
	switch {
	case si.AppDisplayName != "":
		return si.AppDisplayName
	case si.AppID != "":
		return "application " + si.AppID
	}
	return "an application"
}

// appAndResource names the app and, when it differs, the resource it asked
// a token for.
func appAndResource(si *schemas.SignIn) string {
	a := app(si)
	if r := si.ResourceDisplayName; r != "" && !strings.EqualFold(r, si.AppDisplayName) {
		return a + " (resource " + r + ")"
	}
	return a
}

func from(si *schemas.SignIn) string {
	var parts []string
	if si.IPAddress != "" {
		parts = append(parts, "IP "+si.IPAddress)
	}
	loc := strings.Trim(strings.Join([]string{si.Location.City, si.Location.CountryOrRegion}, ", "), ", ")
	if loc != "" {
		parts = append(parts, loc)
	}
	if si.ClientAppUsed != "" {
		parts = append(parts, "client "+si.ClientAppUsed)
	}
	if os := si.DeviceDetail.OperatingSystem; os != "" {
		parts = append(parts, os)
	}
	if len(parts) == 0 {
		return ""
	}
	return " from " + strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// failures48h: "3 failed sign-ins in the last 48 hours".
func failures48h(in Input) string {
	hours := 48
	if in.Window > 0 {
		hours = int(in.Window.Hours())
	}
	if in.CountsPartial {
		return fmt.Sprintf("at least %s in the last %d hours", plural(in.Failures48h, "failed sign-in", "failed sign-ins"), hours)
	}
	return fmt.Sprintf("%s in the last %d hours", plural(in.Failures48h, "failed sign-in", "failed sign-ins"), hours)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// entraSaid appends Entra's own failure reason and additional details.
func entraSaid(si *schemas.SignIn) string {
	var s string
	if r := strings.TrimSpace(si.Status.FailureReason); r != "" && !strings.EqualFold(r, "Other.") && !strings.EqualFold(r, "Other") {
		s += " Entra's failure reason: " + quote(r)
	}
	if d := strings.TrimSpace(si.Status.AdditionalDetails); d != "" {
		s += " Additional details: " + quote(d)
	}
	return s
}

// quote quotes a sentence Entra wrote and ends it with one full stop.
func quote(s string) string {
	q := fmt.Sprintf("%q", s)
	if strings.HasSuffix(s, ".") {
		return q
	}
	return q + "."
}

// device phrases the device state Conditional Access looked at.
func device(si *schemas.SignIn) string {
	d := si.DeviceDetail
	var parts []string
	if d.DisplayName != "" {
		parts = append(parts, "device "+d.DisplayName)
	} else if d.DeviceID == "" {
		parts = append(parts, "an unregistered device")
	}
	if d.OperatingSystem != "" {
		parts = append(parts, d.OperatingSystem)
	}
	if d.TrustType != "" {
		parts = append(parts, "trust type "+d.TrustType)
	}
	parts = append(parts, fmt.Sprintf("compliant: %t, managed: %t", d.IsCompliant, d.IsManaged))
	return strings.Join(parts, ", ")
}

// noun picks the singular or plural form, without the count.
func noun(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
