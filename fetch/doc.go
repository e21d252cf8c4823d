// Package fetch is plugctl's one way to bring bytes from an address onto
// disk: an index file, an artifact, a schema, or a directory source. It
// wraps go-getter/v2 with the defences go-getter leaves to its callers
// (its defaults follow X-Terraform-Get, decompress by file name, link local
// files into place and follow redirects from https to http): its own HTTP
// client (proxy and CA from the environment, no https→http redirects, a
// redirect limit, per-host bearer tokens and ~/.netrc credentials), no
// X-Terraform-Get, no go-getter decompression, no symlinks into place, a
// size limit that fails instead of truncating, an idle timeout, a SHA-256
// computed while the bytes are written, and a fresh temporary path that is
// renamed into place only on success. A single file inside a git repository
// is taken from a full clone, since go-getter cannot fetch one.
//
// OCI registries (oci://REGISTRY/REPOSITORY:TAG or @sha256:DIGEST) go
// through oras-go rather than go-getter, under the same limits, with the
// layer checked against its digest while it is written. The same transport
// (HTTPS, or plain HTTP for a loopback registry whose TLS handshake fails or
// one named in PLUGCTL_OCI_PLAIN_HTTP; Docker's stored credentials or the
// PLUGCTL_TOKEN_<HOST> token) pushes artifacts and indexes (ocipush.go),
// so that publish, index push and mirror share one set of rules.
//
// It does not decide whether a hash is right (install/ and index/ compare
// Result.SHA256 with what they expect), does not unpack archives
// (install.Extract does), does not cache anything, and does not choose exit
// codes: cmd/ maps ErrNotFound (errors.Is) to 3.
package fetch
