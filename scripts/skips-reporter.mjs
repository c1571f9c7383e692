/** A node:test reporter that writes one JSON line per skipped test: { name, file, reason }. */
export default async function* skipsReporter(source) {
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.skip !== undefined) {
      const reason = typeof event.data.skip === 'string' ? event.data.skip : 'skipped without a reason';
      yield JSON.stringify({ name: event.data.name, file: event.data.file, reason }) + '\n';
    }
  }
}
