package entra

import (
	"maps"
	"time"

	"github.com/signindiag/signindiag/schemas"
)

// The members of a sign-in record (Graph signIn fields, Azure Monitor
// record members) are generated from the model with the switch that reads
// them (decode_gen.go: signInNames, member); Log Analytics columns whose
// names differ are in loganalytics.go.
var signInFields = func() fields {
	all := maps.Clone(signInNames)
	maps.Copy(all, logAnalyticsColumns)
	return newFields(all, logAnalyticsExactColumns)
}()

// propertiesFields is signInFields with member-order hints of its own: an
// Azure Monitor record and its properties list members in different orders.
var propertiesFields = func() fields {
	f := signInFields
	f.idx = fieldSets
	fieldSets++
	return f
}()

// readResourceID reads resourceId. Azure Monitor and Log Analytics call
// the log's own Azure resource path resourceId
// ("/tenants/…/providers/Microsoft.aadiam"); Graph's resourceId is an
// application id.
func (d *decoder) readResourceID(dst *string) {
	var s string
	if d.readStr(&s); len(s) == 0 || s[0] != '/' {
		*dst = s
	}
}

// readProperties reads an Azure Monitor record's properties: the sign-in,
// decoded straight into rs.inner. Members of a record's properties go to
// rs.inner.
func (d *decoder) readProperties(rs *recordState, m *recordMeta) {
	if m != &rs.om {
		d.skip() // properties inside properties mean nothing
		return
	}
	if rs.inner == nil {
		rs.inner, rs.im = new(schemas.SignIn), recordMeta{}
	}
	if d.object("properties", &propertiesFields, func(id uint8) { d.member(rs.inner, rs, &rs.im, id) }) == '{' {
		rs.om.hasProps = true
	}
}

func (d *decoder) readCategory(dst *string) {
	b, k := d.scalar()
	if k != '"' {
		return
	}
	if c := enumCategory.canon(b); c != "" {
		*dst = c
	} else if c := laTables.canon(b); c != "" {
		*dst = normaliseCategory(c)
	} else {
		*dst = d.keep(b)
	}
}

// record decodes one element of a batch.
func (d *decoder) record(rs *recordState) (*schemas.SignIn, error) {
	if d.peek() != '{' {
		d.skip()
		return nil, malformed(ReasonInvalidJSON, "record is not a JSON object")
	}
	rs.begin()
	outer := d.soft
	d.soft = nil
	d.object("record", &signInFields, func(id uint8) { d.member(&rs.outer, rs, &rs.om, id) })
	soft := d.soft
	d.soft = outer
	if d.err != nil {
		return nil, nil
	}
	return finishRecord(rs, soft)
}

func (rs *recordState) begin() {
	rs.outer, rs.om, rs.inner = schemas.SignIn{}, recordMeta{}, nil
}

// finishRecord applies the fallbacks between a record's parts, derives
// the category, validates and normalises.
func finishRecord(rs *recordState, soft *DecodeError) (*schemas.SignIn, error) {
	if soft != nil {
		return nil, soft
	}
	si, m := &rs.outer, &rs.om
	if !m.known {
		return nil, malformed(ReasonUnknownShape, "neither a Graph signIn, an Azure Monitor record, a Log Analytics row nor a records/value envelope")
	}
	if m.hasProps {
		// An Azure Monitor record: the sign-in is properties; the
		// record's own members fill what properties lacks.
		out, in := rs.inner, &rs.im
		if in.created == timeAbsent && m.created != timeAbsent {
			out.CreatedDateTime, in.created, in.badCreated = si.CreatedDateTime, m.created, m.badCreated
		}
		if in.timeState == timeAbsent {
			in.time, in.timeState, in.badTime = m.time, m.timeState, m.badTime
		}
		in.category = first(m.category, in.category)
		in.laType = first(m.laType, in.laType)
		if !in.codeSet && !in.resultCodeSet && m.resultCodeSet {
			in.resultCode, in.resultCodeSet = m.resultCode, true
		}
		in.resultDescription = first(in.resultDescription, m.resultDescription)
		in.callerIP = first(in.callerIP, m.callerIP)
		in.country = first(in.country, m.country)
		in.identity = first(in.identity, m.identity)
		out.CorrelationID = first(out.CorrelationID, si.CorrelationID)
		out.TenantID = first(out.TenantID, si.TenantID)
		out.ID = first(out.ID, si.ID)
		si, m = out, in
	}
	if m.created == timeBad {
		return nil, malformed(ReasonInvalidJSON, "createdDateTime %q is not a time", m.badCreated)
	}
	if m.created == timeAbsent {
		switch m.timeState {
		case timeOK:
			si.CreatedDateTime = m.time
		case timeBad:
			return nil, malformed(ReasonInvalidJSON, "time %q is not a time", m.badTime)
		}
	}
	if !m.codeSet && m.resultCodeSet {
		si.Status.ErrorCode = m.resultCode
	}
	if si.Status.FailureReason == "" && si.Status.ErrorCode != 0 {
		si.Status.FailureReason = m.resultDescription
	}
	si.IPAddress = first(si.IPAddress, m.callerIP)
	si.Location.CountryOrRegion = first(si.Location.CountryOrRegion, m.country)
	si.UserDisplayName = first(si.UserDisplayName, m.identity)
	si.Category = first(m.category, m.laType)
	if si.Category == "" {
		si.Category = deriveCategory(si)
	}
	if err := validate(si); err != nil {
		return nil, err
	}
	// Properties were decoded into a fresh SignIn (si); a record's own
	// members sit in rs.outer (si), on the caller's stack: copy them out.
	var out *schemas.SignIn
	if rs.om.hasProps {
		out = rs.inner
	} else {
		out = new(schemas.SignIn)
		*out = rs.outer
	}
	normaliseTimes(out)
	return out, nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// deriveCategory names the diagnostic-settings category of a Graph signIn,
// which carries none.
func deriveCategory(si *schemas.SignIn) string {
	for _, t := range si.SignInEventTypes {
		switch t {
		case "interactiveUser":
			return schemas.CategoryInteractive
		case "nonInteractiveUser":
			return schemas.CategoryNonInteractive
		case "servicePrincipal":
			return schemas.CategoryServicePrincipal
		case "managedIdentity":
			return schemas.CategoryManagedIdentity
		}
	}
	if mi := si.ManagedServiceIdentity; mi != nil && ((mi.MsiType != "" && mi.MsiType != "none") || mi.AssociatedResourceID != "") {
		return schemas.CategoryManagedIdentity
	}
	switch {
	case si.ServicePrincipalID != "" && si.UserID == "":
		return schemas.CategoryServicePrincipal
	case si.IsInteractive:
		return schemas.CategoryInteractive
	}
	return schemas.CategoryNonInteractive
}

// validate checks the fields every stage relies on.
func validate(si *schemas.SignIn) error {
	if si.ID == "" {
		return malformed(ReasonMissingID, "sign-in has no id")
	}
	if si.CreatedDateTime.IsZero() {
		return malformed(ReasonMissingTime, "sign-in %s has no createdDateTime", si.ID)
	}
	if si.UserKey() == "" {
		return malformed(ReasonMissingUser, "sign-in %s names no user or service principal", si.ID)
	}
	return nil
}

// normaliseTimes puts times on millisecond precision in UTC: storage keeps
// milliseconds, and windows must compare exactly what storage can answer.
func normaliseTimes(si *schemas.SignIn) {
	si.CreatedDateTime = si.CreatedDateTime.UTC().Truncate(time.Millisecond)
	for i := range si.AuthenticationDetails {
		a := &si.AuthenticationDetails[i]
		if !a.AuthenticationStepDateTime.IsZero() {
			a.AuthenticationStepDateTime = a.AuthenticationStepDateTime.UTC().Truncate(time.Millisecond)
		}
	}
}

// decodeMessage is DecodeSignIns.
func decodeMessage(value []byte) ([]Decoded, error) {
	value = trimSpace(value)
	if len(value) == 0 {
		return nil, malformed(ReasonInvalidJSON, "empty message")
	}
	d := getDecoder(value)
	defer d.release()
	switch d.peek() {
	case '{':
		return d.topObject()
	case '[':
		return d.topArray()
	}
	d.skip()
	d.end()
	if d.err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", d.err)
	}
	return nil, malformed(ReasonInvalidJSON, "message is neither a JSON object nor an array of objects")
}

// topObject reads a message that is one object: a batch envelope
// ({"records":[…]}, {"value":[…]}) or one record. Both are read in the same
// pass; a batch array, when there is one, wins (the last one if repeated).
func (d *decoder) topObject() ([]Decoded, error) {
	var rs recordState
	var batch []Decoded
	isBatch := false
	d.object("message", &signInFields, func(id uint8) {
		if id == fBatch && d.peek() == '[' {
			var elem recordState // zeroed only for batches
			batch, _ = d.records(&elem, batch[:0])
			isBatch = true
			return
		}
		d.member(&rs.outer, &rs, &rs.om, id)
	})
	d.end()
	if d.err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", d.err)
	}
	if isBatch {
		return batch, nil
	}
	si, err := finishRecord(&rs, d.soft)
	return []Decoded{{SignIn: si, Raw: d.data, Err: err}}, nil
}

// topArray reads a message that is an array of records (Log Analytics rows).
func (d *decoder) topArray() ([]Decoded, error) {
	var elem recordState
	out, objects := d.records(&elem, nil)
	d.end()
	if d.err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", d.err)
	}
	if len(out) > 0 && objects == 0 {
		return nil, malformed(ReasonInvalidJSON, "message is neither a JSON object nor an array of objects")
	}
	return out, nil
}

// records reads an array of records (peek returned '['); each element's
// raw bytes are its exact span of the message.
func (d *decoder) records(rs *recordState, out []Decoded) ([]Decoded, int) {
	objects := 0
	for more := d.beginArray(); more; more = d.nextElement() {
		d.ws()
		start := d.pos
		if d.pos < len(d.data) && d.data[d.pos] == '{' {
			objects++
		}
		si, err := d.record(rs)
		if d.err != nil {
			break
		}
		out = append(out, Decoded{SignIn: si, Raw: d.data[start:d.pos:d.pos], Err: err})
	}
	return out, objects
}

// decodeFlagMessage is DecodeFlag.
func decodeFlagMessage(value []byte) (*schemas.Flag, error) {
	d := getDecoder(trimSpace(value))
	defer d.release()
	d.plain = true
	if d.peek() != '{' {
		if len(d.data) == 0 {
			return nil, malformed(ReasonInvalidJSON, "empty message")
		}
		d.skip()
		d.end()
		if d.err != nil {
			return nil, malformed(ReasonInvalidJSON, "%v", d.err)
		}
		return nil, malformed(ReasonInvalidJSON, "flag is not a JSON object")
	}
	var f schemas.Flag
	var at timeState
	var badAt string
	d.readFlag("flag", &f, &at, &badAt)
	d.end()
	if d.err != nil {
		return nil, malformed(ReasonInvalidJSON, "%v", d.err)
	}
	if at == timeBad {
		return nil, malformed(ReasonInvalidJSON, "flaggedAt %q is not a time", badAt)
	}
	return finishFlag(&f)
}
