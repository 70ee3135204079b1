package loadgen

// appendTime writes a Unix time in nanoseconds as Azure Monitor and Graph
// write it, RFC 3339 in UTC with seven fraction digits
// (2025-03-04T09:12:31.4471234Z). Hand-rolled because every record holds
// several times and time.AppendFormat would be a tenth of the budget.
func appendTime(b []byte, ns int64) []byte {
	sec := floorDiv(ns, 1e9)
	ticks := (ns - sec*1e9) / 100
	days := floorDiv(sec, 86400)
	rem := sec - days*86400
	y, m, d := civil(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, int(rem/3600))
	b = append(b, ':')
	b = append2(b, int(rem/60%60))
	b = append(b, ':')
	b = append2(b, int(rem%60))
	b = append(b, '.')
	var frac [7]byte
	for i := 6; i >= 0; i-- {
		frac[i] = byte('0' + ticks%10)
		ticks /= 10
	}
	b = append(b, frac[:]...)
	return append(b, 'Z')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a date (Howard Hinnant's
// days_from_civil inverse).
func civil(z int64) (year, month, day int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
