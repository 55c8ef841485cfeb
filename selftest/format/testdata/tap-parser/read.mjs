// Reads a TAP stream on stdin with node-tap's tap-parser (the parser of
// node-tap and of most JavaScript TAP reporters) and prints what it made of
// it as one JSON object, for selftest/format's consumer tests: the final
// counts, the version it saw, every test point of the top level (name,
// ok, its directive and diagnostics), the parse errors, and every line it
// could not read as TAP ("extra").
import { Parser } from 'tap-parser'

const asserts = []
const extra = []
let version = null
const p = new Parser({ strict: true })
p.on('version', v => { version = v })
p.on('assert', a => {
  asserts.push({ id: a.id, ok: a.ok, name: a.name, skip: a.skip, todo: a.todo, diag: a.diag ?? null })
})
p.on('extra', e => extra.push(e))
p.on('complete', r => {
  process.stdout.write(JSON.stringify({
    ok: r.ok,
    count: r.count,
    pass: r.pass,
    fail: r.fail,
    skip: r.skip,
    todo: r.todo,
    plan: { start: r.plan.start, end: r.plan.end, skipAll: r.plan.skipAll },
    version,
    asserts,
    extra,
    // A parse error is a failure whose tapError names it (for example
    // "version 13 not supported" or "Non-TAP data encountered in strict mode").
    parseErrors: r.failures.filter(f => f.tapError).map(f => f.tapError)
  }) + '\n')
})
process.stdin.pipe(p)
