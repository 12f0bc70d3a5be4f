//go:build race

package main

// raceEnabled builds the vigil binary under test with -race too, so data
// races in the real supervisor fail the tests (exit code 66).
const raceEnabled = true
