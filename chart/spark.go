package chart

import (
	"math"
	"strings"
	"time"
)

// bars are the eight heights of a sparkline cell.
var bars = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values in width cells between lo and hi (equal: the
// values' own range). Values are averaged into cells when there are more
// of them than cells; NaN is a gap, drawn as a space. A flat series is
// drawn at mid height.
func Sparkline(values []float64, width int, lo, hi float64) string {
	if width <= 0 || len(values) == 0 {
		return ""
	}
	width = min(width, 4096)
	cells := resample(values, width)
	if lo == hi || math.IsNaN(lo) || math.IsNaN(hi) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, v := range cells {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	var b strings.Builder
	for _, v := range cells {
		switch {
		case math.IsNaN(v):
			b.WriteRune(' ')
		case !(hi > lo) || math.IsInf(hi-lo, 0):
			b.WriteRune(bars[len(bars)/2-1])
		default:
			f := (v - lo) / (hi - lo)
			i := int(math.Round(f * float64(len(bars)-1)))
			b.WriteRune(bars[max(0, min(i, len(bars)-1))])
		}
	}
	return b.String()
}

// resample averages values into n cells, or spreads them when fewer
// (each value covers the cells it falls on). NaNs are left out of a
// cell's mean; a cell with none is NaN.
func resample(values []float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		from := i * len(values) / n
		to := max((i+1)*len(values)/n, from+1)
		sum, k := 0.0, 0
		for _, v := range values[from:min(to, len(values))] {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				sum += v
				k++
			}
		}
		if k == 0 {
			out[i] = math.NaN()
		} else {
			out[i] = sum / float64(k)
		}
	}
	return out
}

// Sample is one value of a time series.
type Sample struct {
	At    time.Time
	Value float64
}

// Slots averages samples into n equal time slots ending at end and
// spanning window; slots without samples are NaN, so gaps in time show as
// gaps in the sparkline.
func Slots(samples []Sample, n int, end time.Time, window time.Duration) []float64 {
	if n <= 0 || window <= 0 {
		return nil
	}
	n = min(n, 4096)
	sum, cnt := make([]float64, n), make([]int, n)
	start := end.Add(-window)
	for _, s := range samples {
		if s.At.Before(start) || s.At.After(end) || math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			continue
		}
		i := int(float64(s.At.Sub(start)) / float64(window) * float64(n))
		i = max(0, min(i, n-1))
		sum[i] += s.Value
		cnt[i]++
	}
	out := make([]float64, n)
	for i := range out {
		if cnt[i] == 0 {
			out[i] = math.NaN()
		} else {
			out[i] = sum[i] / float64(cnt[i])
		}
	}
	return out
}
