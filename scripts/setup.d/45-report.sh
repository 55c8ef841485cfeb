# The outer driver's report.html is loaded in Debian's headless chromium by
# outer's TestReportHTMLInChromium (no console errors, no request leaves
# the file, the matrix cells, a screenshot kept as an artifact).
PACKAGES+=(chromium)
