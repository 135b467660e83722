// Package readme runs the README's walk-through as a reader would paste it.
package readme
