package demodir

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
)

const avatarSize = 96

// avatar draws a deterministic 96x96 JPEG portrait silhouette (a head and
// shoulders) on a background whose hue depends on i.
func avatar(i int) ([]byte, error) {
	bg := hueColor(float64(i*47%360), 0.55, 0.80)
	fg := hueColor(float64((i*47+180)%360), 0.35, 0.97)
	img := image.NewRGBA(image.Rect(0, 0, avatarSize, avatarSize))
	for y := 0; y < avatarSize; y++ {
		for x := 0; x < avatarSize; x++ {
			c := bg
			if inEllipse(x, y, 48, 38, 18, 20) || inEllipse(x, y, 48, 104, 36, 34) {
				c = fg
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func inEllipse(x, y, cx, cy, rx, ry int) bool {
	dx, dy := float64(x-cx)/float64(rx), float64(y-cy)/float64(ry)
	return dx*dx+dy*dy <= 1
}

// hueColor converts a hue in degrees with saturation and value in [0,1] to RGB.
func hueColor(h, s, v float64) color.RGBA {
	c := v * s
	hp := h / 60
	x := c * (1 - abs(mod2(hp)-1))
	var r, g, b float64
	switch int(hp) {
	case 0:
		r, g = c, x
	case 1:
		r, g = x, c
	case 2:
		g, b = c, x
	case 3:
		g, b = x, c
	case 4:
		r, b = x, c
	default:
		r, b = c, x
	}
	m := v - c
	return color.RGBA{R: uint8((r + m) * 255), G: uint8((g + m) * 255), B: uint8((b + m) * 255), A: 255}
}

func mod2(f float64) float64 { return f - 2*float64(int(f/2)) }

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
