package geo

import (
	"math"
	"strconv"
)

// Projection maps positions to a plane of pixels around a centre: x grows
// east, y grows south, and one pixel is MetresPerPx on the ground both
// ways. It is equirectangular with longitudes scaled by the cosine of the
// centre's latitude, so shapes are true near the centre; across a mesh a
// few hundred kilometres wide the error stays below a terminal pixel.
//
// A map drawn in braille has dots 2 wide and 4 tall per cell, and a cell
// is about twice as tall as it is wide, so dots are about square: the
// projection uses one scale for both axes.
type Projection struct {
	Centre      Point
	MetresPerPx float64
	W, H        int // the plane's size in pixels; the centre is in its middle
}

// defaultSpan is the width shown around a single point, or points in one
// place: a neighbourhood.
const defaultSpan = 2000.0

// Fit returns the projection that shows every valid point in a w×h pixel
// plane, leaving margin (a fraction of each side, e.g. 0.05) free.
func Fit(points []Point, w, h int, margin float64) Projection {
	w, h = max(w, 1), max(h, 1)
	var minLat, maxLat, minLon, maxLon float64
	n := 0
	for _, p := range points {
		if !p.Valid() {
			continue
		}
		if n == 0 {
			minLat, maxLat, minLon, maxLon = p.Lat, p.Lat, p.Lon, p.Lon
		}
		minLat, maxLat = math.Min(minLat, p.Lat), math.Max(maxLat, p.Lat)
		minLon, maxLon = math.Min(minLon, p.Lon), math.Max(maxLon, p.Lon)
		n++
	}
	pr := Projection{W: w, H: h, MetresPerPx: defaultSpan / float64(w)}
	if n == 0 {
		return pr
	}
	pr.Centre = Point{(minLat + maxLat) / 2, (minLon + maxLon) / 2}
	k := math.Cos(rad(pr.Centre.Lat))
	spanX := rad(maxLon-minLon) * k * earthRadius
	spanY := rad(maxLat-minLat) * earthRadius
	margin = math.Min(math.Max(margin, 0), 0.45)
	usableW, usableH := float64(w)*(1-2*margin), float64(h)*(1-2*margin)
	mpp := math.Max(spanX/math.Max(usableW, 1), spanY/math.Max(usableH, 1))
	if mpp <= 0 || math.IsNaN(mpp) {
		mpp = defaultSpan / float64(w)
	}
	pr.MetresPerPx = mpp
	return pr
}

// ToPx is where p falls on the plane.
func (pr Projection) ToPx(p Point) (x, y float64) {
	k := math.Cos(rad(pr.Centre.Lat))
	dx := rad(p.Lon-pr.Centre.Lon) * k * earthRadius / pr.MetresPerPx
	dy := rad(p.Lat-pr.Centre.Lat) * earthRadius / pr.MetresPerPx
	return float64(pr.W)/2 + dx, float64(pr.H)/2 - dy
}

// FromPx is the position at a pixel.
func (pr Projection) FromPx(x, y float64) Point {
	k := math.Cos(rad(pr.Centre.Lat))
	if k == 0 {
		k = 1e-9
	}
	dx := (x - float64(pr.W)/2) * pr.MetresPerPx
	dy := (float64(pr.H)/2 - y) * pr.MetresPerPx
	return Point{pr.Centre.Lat + deg(dy/earthRadius), pr.Centre.Lon + deg(dx/(earthRadius*k))}
}

// Zoom shows factor times more detail (factor > 1 zooms in), around the
// centre. The scale stays between a metre and 20,000 km per pixel.
func (pr Projection) Zoom(factor float64) Projection {
	if factor > 0 && !math.IsInf(factor, 0) {
		pr.MetresPerPx = math.Min(math.Max(pr.MetresPerPx/factor, 0.1), 2e7)
	}
	return pr
}

// Pan moves the centre by dx, dy pixels (positive: east, south).
func (pr Projection) Pan(dx, dy float64) Projection {
	c := pr.FromPx(float64(pr.W)/2+dx, float64(pr.H)/2+dy)
	c.Lat = math.Max(-89, math.Min(89, c.Lat))
	c.Lon = math.Mod(c.Lon+540, 360) - 180
	pr.Centre = c
	return pr
}

// Resize keeps centre and scale on a plane of another size.
func (pr Projection) Resize(w, h int) Projection {
	pr.W, pr.H = max(w, 1), max(h, 1)
	return pr
}

// ScaleBar picks a round ground length (1, 2 or 5 times a power of ten)
// that is at most maxPx pixels long, and returns its length in pixels and
// its label.
func ScaleBar(metresPerPx float64, maxPx int, imperial bool) (px int, label string) {
	if metresPerPx <= 0 || maxPx <= 0 || math.IsNaN(metresPerPx) || math.IsInf(metresPerPx, 0) {
		return 0, ""
	}
	unit, name, small, smallName := 1000.0, " km", 1.0, " m"
	if imperial {
		unit, name, small, smallName = 1609.344, " mi", 0.3048, " ft"
	}
	most := metresPerPx * float64(maxPx) // metres the bar may span
	best, bestLabel := 0.0, ""
	for _, u := range []struct {
		metres float64
		name   string
	}{{small, smallName}, {unit, name}} {
		for exp := -1; exp <= 5; exp++ {
			for _, m := range []float64{1, 2, 5} {
				v := m * math.Pow(10, float64(exp))
				length := v * u.metres
				if length <= most && length > best && (u.name == name || v < 1000) && (u.name != name || v >= 0.1) {
					best, bestLabel = length, formatNum(v)+u.name
				}
			}
		}
	}
	if best == 0 {
		return 0, ""
	}
	return int(math.Round(best / metresPerPx)), bestLabel
}

func formatNum(v float64) string {
	if v == math.Trunc(v) {
		return strconv.Itoa(int(v))
	}
	return trim(v)
}
