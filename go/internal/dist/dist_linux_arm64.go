package dist

import "embed"

//go:embed linux_arm64
var files embed.FS

const dir = "linux_arm64"
