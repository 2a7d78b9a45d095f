package dist

import "embed"

//go:embed linux_amd64
var files embed.FS

const dir = "linux_amd64"
