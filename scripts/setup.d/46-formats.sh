# The output formats' consumer tests (selftest/format, outer/): our TAP is
# read by prove and Perl's TAP::Parser (Debian's perl) and by node-tap's
# tap-parser (npm, pinned in selftest/format/testdata/tap-parser's
# package-lock.json); our JUnit XML by Debian's python3-junitparser. Node.js
# and npm come with the machine; where npm is missing, Debian's nodejs and
# npm are installed (Debian's npm conflicts with a nodejs that bundles it).
# Nothing to start.
PACKAGES+=(perl python3 python3-junitparser)
command -v npm >/dev/null || PACKAGES+=(nodejs npm)
SETUPS+=(formats)

setup_formats() {
  # npm ci installs exactly the locked tree into node_modules beside the
  # lock, where the tests look for it.
  npm ci --prefix selftest/format/testdata/tap-parser --no-audit --no-fund --loglevel=error
}
