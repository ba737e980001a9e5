// Package geo is the little geometry a mesh map needs: distances and
// bearings between positions, a flat projection around a centre that fits
// a set of points into a canvas, and a scale bar. Meshes span kilometres
// to a few hundred, where a flat projection scaled by the centre's
// latitude is accurate to well under a pixel of a terminal map.
package geo

import (
	"math"
	"strconv"
)

// earthRadius is the IUGG mean Earth radius in metres (R1 = 6,371,008.8 m,
// Moritz, "Geodetic Reference System 1980").
const earthRadius = 6371008.8

// Point is a position in degrees.
type Point struct{ Lat, Lon float64 }

// FromE7 reads Meshtastic's latitude_i/longitude_i, in 1e-7 degrees.
func FromE7(lat, lon int32) Point { return Point{float64(lat) * 1e-7, float64(lon) * 1e-7} }

// Valid reports whether p is a position: in range, finite, and not (0, 0),
// which Meshtastic sends for "no fix".
func (p Point) Valid() bool {
	if math.IsNaN(p.Lat) || math.IsNaN(p.Lon) || math.Abs(p.Lat) > 90 || math.Abs(p.Lon) > 180 {
		return false
	}
	return p.Lat != 0 || p.Lon != 0
}

func rad(d float64) float64 { return d * math.Pi / 180 }
func deg(r float64) float64 { return r * 180 / math.Pi }

// Distance is the great-circle distance from a to b in metres (haversine).
func Distance(a, b Point) float64 {
	dLat, dLon := rad(b.Lat-a.Lat), rad(b.Lon-a.Lon)
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(rad(a.Lat))*math.Cos(rad(b.Lat))*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Bearing is the initial bearing from a to b, degrees clockwise from
// north in [0, 360).
func Bearing(a, b Point) float64 {
	φ1, φ2, Δλ := rad(a.Lat), rad(b.Lat), rad(b.Lon-a.Lon)
	y := math.Sin(Δλ) * math.Cos(φ2)
	x := math.Cos(φ1)*math.Sin(φ2) - math.Sin(φ1)*math.Cos(φ2)*math.Cos(Δλ)
	return math.Mod(deg(math.Atan2(y, x))+360, 360)
}

var compass = [16]string{"N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"}

// Compass names a bearing by the nearest of 16 points.
func Compass(bearing float64) string {
	if math.IsNaN(bearing) || math.IsInf(bearing, 0) {
		return "?"
	}
	i := int(math.Round(math.Mod(math.Mod(bearing, 360)+360, 360)/22.5)) % 16
	return compass[i]
}

// FormatDistance writes metres for people: "850 m", "12.4 km", or in
// miles ("0.5 mi", "1000 ft") when imperial.
func FormatDistance(m float64, imperial bool) string {
	if imperial {
		ft := m / 0.3048
		if ft < 1000 {
			return strconv.Itoa(int(math.Round(ft))) + " ft"
		}
		return trim(m/1609.344) + " mi"
	}
	if m < 1000 {
		return strconv.Itoa(int(math.Round(m))) + " m"
	}
	return trim(m/1000) + " km"
}

// trim writes x with one decimal below 100 and none above.
func trim(x float64) string {
	if x >= 100 {
		return strconv.Itoa(int(math.Round(x)))
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}
