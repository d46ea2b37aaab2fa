import * as assert from 'assert';
import { escapeControls, rejectedWarning } from '../src/core/spaces';

describe('items AWS described invalidly (spaces.list rejected)', () => {
  it('says nothing when nothing was left out', () => {
    assert.strictEqual(rejectedWarning(undefined), undefined);
    assert.strictEqual(rejectedWarning([]), undefined);
  });

  it('warns in one line naming the field, with every control character escaped', () => {
    const reason = "AWS answered ListSpaces with an invalid SpaceName 'e\x1b]0;pwned\x07\r\n\u202eevil\udcff'";
    const warning = rejectedWarning([reason, 'another']) ?? '';
    assert.match(warning, /^SageMaker: 2 listed items were left out/);
    assert.ok(warning.includes('invalid SpaceName'));
    assert.ok(warning.includes('(and 1 more in the SageMaker output log)'));
    assert.ok(!/[\x00-\x1f\x7f\u202e\ud800-\udfff]/.test(warning), warning);
    assert.ok(warning.includes('\\u001b]0;pwned\\u0007\\u000d\\u000a\\u202eevil\\udcff'));
  });

  it('keeps ordinary text, including non-ASCII letters, as it is', () => {
    assert.strictEqual(escapeControls('über-data ✓'), 'über-data ✓');
  });
});
