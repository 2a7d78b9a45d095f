package dist

import "embed"

//go:embed darwin_amd64
var files embed.FS

const dir = "darwin_amd64"
