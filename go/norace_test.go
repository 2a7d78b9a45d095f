//go:build !race

package inferencekey_test

const raceEnabled = false
