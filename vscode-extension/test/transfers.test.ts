import * as assert from 'assert';
import { progressLine, transferParams } from '../src/core/transfers';

describe('Explorer upload/download (transfer.start as `smconnect cp` sends it)', () => {
  it('uploads a file or folder into a folder of the space', () => {
    assert.deepStrictEqual(transferParams({ region: 'r' }, 'upload', 'd-1/demo', '/w/data', 'datasets', true, 't1'), {
      region: 'r',
      direction: 'upload',
      space: 'd-1/demo',
      recursive: true,
      lanes: 'auto',
      id: 't1',
      sources: ['/w/data'],
      dest: 'datasets/',
    });
    const home = transferParams({}, 'upload', 'demo', '/w/a.csv', '  ', false, 't2');
    assert.deepStrictEqual([home.sources, home.dest, home.recursive], [['/w/a.csv'], './', false]);
  });

  it('downloads a path of the space into a local folder', () => {
    const p = transferParams({}, 'download', 'demo', '/w/out', 'ckpt/model.pt', true, 't3');
    assert.deepStrictEqual([p.direction, p.sources, p.dest], ['download', ['ckpt/model.pt'], '/w/out/']);
  });

  it('reports bytes, files and lanes, and the increment since the last note', () => {
    const note = { bytes: 3 * 1048576, total: 4 * 1048576, files: 2, total_files: 3, lanes: 4 };
    const line = progressLine(note, 1048576);
    assert.strictEqual(line.message, '3.0 MiB of 4.0 MiB, 2/3 files, 4 lanes');
    assert.strictEqual(line.increment, 50);
    assert.strictEqual(progressLine({ ...note, total: 0 }, 0).increment, 0);
  });
});
