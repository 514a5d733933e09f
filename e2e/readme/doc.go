// Package readme tests the repository's README.md as a newcomer follows it. The commands of its
// walks run in order, as written, against devservers the test starts on free ports, and what the
// README says they print is checked (TestReadmeWalks, skipped with -short). Its two commands
// stay the ones CI runs, and its links, and those of the pages under docs/, reach their pages
// and headings.
package readme
