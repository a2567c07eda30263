package sandbox

import (
	"strconv"
	"time"
)

// FormatMiB formats a size in bytes for people: in GiB when a whole number
// of them ("2 GiB"), else in MiB ("512 MiB", "1.5 MiB").
func FormatMiB(bytes int64) string {
	if bytes >= 1<<30 && bytes%(1<<30) == 0 {
		return strconv.FormatInt(bytes>>30, 10) + " GiB"
	}
	return mib(bytes) + " MiB"
}

// FormatSeconds formats d in seconds without trailing zeros ("30", "1.5").
func FormatSeconds(d time.Duration) string { return seconds(d) }
