package dist

import "embed"

//go:embed darwin_arm64
var files embed.FS

const dir = "darwin_arm64"
