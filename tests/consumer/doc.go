// Package consumer checks what a resource server outside this repository
// gets when it imports the client module: it builds one in a temporary
// directory and reads its module graph.
package consumer
