import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../src/errors.js';
import { unpickle, PyGlobal } from '../src/io/pickle.js';

// pickle.dumps(obj, protocol=p) by CPython 3.11 for
//   l = [7]; od = OrderedDict([('k', 1.25), ('m', [])])
//   obj = {'a': [1, -2, 300, 70000, -70000, 3.5, None, True, False, 2**40, -2**70, 'é',
//                (1,2,3), (), (1,), (1,2), (1,2,3,4)], 'shared': None, 'x': l, 'y': l, 'od': od}
const PROTOCOL_2 = '80027d71002858010000006171015d7102284b014afeffffff4d2c014a701101004a90eefeff47400c0000000000004e88898a060000000000018a090000000000000000c05802000000c3a971034b014b024b03877104294b018571054b014b02867106284b014b024b034b0474710765580600000073686172656471084e58010000007871095d710a4b0761580100000079710b680a58020000006f64710c63636f6c6c656374696f6e730a4f726465726564446963740a710d2952710e2858010000006b710f473ff400000000000058010000006d71105d711175752e';
const PROTOCOL_4 = '800495b7000000000000007d94288c0161945d94284b014afeffffff4d2c014a701101004a90eefeff47400c0000000000004e88898a060000000000018a090000000000000000c08c02c3a9944b014b024b038794294b0185944b014b028694284b014b024b034b047494658c06736861726564944e8c0178945d944b07618c017994680a8c026f64948c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c016b94473ff40000000000008c016d945d9475752e';

const hooks = {
  source: 'test.pkl',
  findGlobal: (module: string, name: string) =>
    module === 'collections' && name === 'OrderedDict' ? new PyGlobal(module, name, () => new Map()) : undefined,
  persistentLoad: () => assert.fail('no persistent ids here'),
};

test('CPython protocol 2 and 4 pickles decode to the same values', () => {
  for (const hex of [PROTOCOL_2, PROTOCOL_4]) {
    const v = unpickle(Buffer.from(hex, 'hex'), hooks) as Map<string, unknown>;
    assert.ok(v instanceof Map);
    assert.deepEqual([...v.keys()], ['a', 'shared', 'x', 'y', 'od']);
    assert.deepEqual(v.get('a'), [1, -2, 300, 70000, -70000, 3.5, null, true, false, 2 ** 40, -(2n ** 70n), 'é',
      [1, 2, 3], [], [1], [1, 2], [1, 2, 3, 4]]);
    assert.equal(v.get('shared'), null);
    assert.deepEqual(v.get('x'), [7]);
    assert.equal(v.get('x'), v.get('y'), 'memoized objects keep their identity');
    assert.deepEqual(v.get('od'), new Map<string, unknown>([['k', 1.25], ['m', []]]));
  }
});

test('refused globals and broken streams are UserErrors naming the source', () => {
  const bad = (hex: string, ...parts: string[]) => assert.throws(() => unpickle(Buffer.from(hex, 'hex'), hooks), (e: unknown) => {
    assert.ok(e instanceof UserError);
    for (const p of ['test.pkl', ...parts]) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
  // c builtins\neval\n
  bad('8002636275696c74696e730a6576616c0a2e', 'builtins.eval', 'not allowed');
  bad(PROTOCOL_2.slice(0, 60), 'truncated');
  bad('80022e', 'stack underflow');
  bad('8002680a2e', 'memo 10');
  bad('80024b01742e', 'MARK');
});
