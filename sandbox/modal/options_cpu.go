package modal

import (
	"fmt"
	"math"
)

// minCPU is the smallest CPU request Modal takes: it counts CPU in
// thousandths of a core, and the SDK drops a request that rounds to none.
const minCPU = 0.001

// checkCPU refuses a CPU request below Modal's granularity, which would
// otherwise be silently dropped (the sandbox would get Modal's default).
func checkCPU(cpu float64) error {
	if cpu < minCPU {
		return fmt.Errorf("modal: cpu must be at least %g (Modal allocates CPU in thousandths of a core), got %g (policy backend.modal.cpu)", minCPU, cpu)
	}
	return nil
}

// milliCPU is cpu in whole thousandths of a core, rounded to the nearest.
func milliCPU(cpu float64) int { return int(math.Round(cpu * 1000)) }

// cpuRounded reports whether Modal gets another CPU request than cpu (not
// a whole number of thousandths), and the one it gets.
func cpuRounded(cpu float64) (float64, bool) {
	got := float64(milliCPU(cpu)) / 1000
	return got, got != cpu
}

// sdkCPU is the value to give the SDK for cpu. The SDK truncates
// 1000 × CPU to whole thousandths, which for many values (1.001, 2.003)
// lands one below what was meant; half a thousandth above the rounded
// request truncates to exactly it.
func sdkCPU(cpu float64) float64 {
	return (float64(milliCPU(cpu)) + 0.5) / 1000
}
