// The Go release the client was built with, for the matrix.
package main

import "runtime"

func runtimeVersion() string { return runtime.Version() }
