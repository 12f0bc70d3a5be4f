// Package e2e holds whole-system tests: the real vigil and vigil-server
// binaries, built by TestMain, run as processes on loopback sockets with a
// SQLite store in a temporary directory, while the tests rewrite their
// configuration files, send signals and keep clients busy. The package has
// no API; see README-section.md for what the tests cover and how to run them.
package e2e
