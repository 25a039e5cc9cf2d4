package limits

import (
	"fmt"
	"strings"
)

// mountOf returns "DEVICE (TYPE, mounted on MOUNTPOINT)" for the mount in mounts (the
// text of /proc/self/mounts) that holds the absolute path abs.
func mountOf(mounts, abs string) string {
	best, bestLen := "unknown", -1
	for line := range strings.Lines(mounts) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		dev, mp, typ := f[0], f[1], f[2]
		under := mp == "/" || abs == mp || strings.HasPrefix(abs, mp+"/")
		if under && len(mp) > bestLen {
			best, bestLen = fmt.Sprintf("%s (%s, mounted on %s)", dev, typ, mp), len(mp)
		}
	}
	return best
}
