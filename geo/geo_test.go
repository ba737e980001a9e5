package geo

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestDistanceBearing(t *testing.T) {
	// One degree of latitude on the mean sphere: 2πR/360 = 111,195 m.
	if d := Distance(Point{10, 20}, Point{11, 20}); !near(d, 111195, 1) {
		t.Errorf("1° of latitude: %.0f m", d)
	}
	// Paris (48.8566, 2.3522) to London (51.5074, -0.1278): 343.5 km on
	// the sphere; within 0.5 %.
	paris, london := Point{48.8566, 2.3522}, Point{51.5074, -0.1278}
	if d := Distance(paris, london); !near(d, 343.5e3, 343.5e3*0.005) {
		t.Errorf("Paris to London: %.0f m", d)
	}
	for _, c := range []struct {
		to   Point
		want float64
		name string
	}{{Point{1, 0}, 0, "N"}, {Point{0, 1}, 90, "E"}, {Point{-1, 0}, 180, "S"}, {Point{0, -1}, 270, "W"}, {Point{1, 1}, 45, "NE"}} {
		b := Bearing(Point{0, 0}, c.to)
		if !near(b, c.want, 0.5) || Compass(b) != c.name {
			t.Errorf("bearing to %v: %.1f %s, want %.0f %s", c.to, b, Compass(b), c.want, c.name)
		}
	}
	if Compass(359) != "N" || Compass(-10) != "N" || Compass(math.NaN()) != "?" || Compass(200) != "SSW" {
		t.Error("compass points")
	}
}

func TestValid(t *testing.T) {
	for p, want := range map[Point]bool{{0, 0}: false, {91, 0}: false, {0, 181}: false, {math.NaN(), 1}: false, {45, 7}: true, {0, 1}: true} {
		if p.Valid() != want {
			t.Errorf("%v valid %v", p, !want)
		}
	}
	if p := FromE7(473977420, 85244470); !near(p.Lat, 47.397742, 1e-9) || !near(p.Lon, 8.524447, 1e-9) {
		t.Errorf("FromE7 %v", p)
	}
}

func TestProjection(t *testing.T) {
	pts := []Point{{47.40, 8.50}, {47.45, 8.60}, {47.35, 8.55}, {0, 0}}
	pr := Fit(pts, 160, 96, 0.05)
	for _, p := range pts[:3] {
		x, y := pr.ToPx(p)
		if x < 0 || y < 0 || x > 160 || y > 96 {
			t.Errorf("%v falls outside: %.1f,%.1f", p, x, y)
		}
		back := pr.FromPx(x, y)
		if Distance(p, back) > 0.01 {
			t.Errorf("round trip of %v: %v", p, back)
		}
	}
	// North is up, east is right.
	xn, yn := pr.ToPx(Point{47.45, 8.55})
	xs, ys := pr.ToPx(Point{47.35, 8.55})
	if !(yn < ys) || !near(xn, xs, 1e-9) {
		t.Error("north is not up")
	}
	z := pr.Zoom(2)
	if !near(z.MetresPerPx, pr.MetresPerPx/2, 1e-9) || z.Centre != pr.Centre {
		t.Error("zoom")
	}
	p := pr.Pan(10, 0)
	if x, _ := p.ToPx(pr.Centre); !near(x, 70, 1e-6) {
		t.Errorf("pan east by 10 px moves the old centre to x=%.2f", x)
	}
	// No points, one point, coincident points: a sane neighbourhood.
	for _, ps := range [][]Point{nil, {{47, 8}}, {{47, 8}, {47, 8}}} {
		f := Fit(ps, 100, 50, 0.1)
		if f.MetresPerPx <= 0 || math.IsNaN(f.MetresPerPx) {
			t.Errorf("fit of %v: %v", ps, f)
		}
	}
}

func TestScaleBar(t *testing.T) {
	for _, c := range []struct {
		mpp      float64
		max      int
		imperial bool
		px       int
		label    string
	}{
		{10, 30, false, 20, "200 m"},
		{100, 30, false, 20, "2 km"},
		{1000, 12, false, 10, "10 km"},
		{50, 20, true, 16, "0.5 mi"},
		{5, 40, true, 32, "0.1 mi"},
		{1, 40, true, 30, "100 ft"},
	} {
		px, label := ScaleBar(c.mpp, c.max, c.imperial)
		if px != c.px || label != c.label {
			t.Errorf("ScaleBar(%v, %d, %v) = %d %q, want %d %q", c.mpp, c.max, c.imperial, px, label, c.px, c.label)
		}
	}
	if px, l := ScaleBar(0, 10, false); px != 0 || l != "" {
		t.Error("no scale")
	}
	if FormatDistance(850, false) != "850 m" || FormatDistance(12400, false) != "12.4 km" || FormatDistance(152.4, true) != "500 ft" || FormatDistance(3218.688, true) != "2.0 mi" {
		t.Error("FormatDistance")
	}
}
