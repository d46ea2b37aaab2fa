/**
 * Explorer "Upload to SageMaker space…" / "Download from SageMaker space…" (issue 12): the
 * daemon's `transfer.start` parameters, as `smconnect cp` sends them, and the progress line of
 * its `transfer.progress` notifications.
 */

export type Direction = 'upload' | 'download';

export interface TransferNote {
  bytes: number;
  total: number;
  files: number;
  total_files: number;
  lanes: number;
}

/** `transfer.start` for one local path (file or folder) and one path in the space; a path in
 * the space is relative to the space user's home unless absolute (as with `smconnect cp`). */
export function transferParams(
  ctx: object,
  direction: Direction,
  spaceRef: string,
  localPath: string,
  remotePath: string,
  folder: boolean,
  id: string,
): Record<string, unknown> {
  const remote = remotePath.trim() || '.';
  const common = { ...ctx, direction, space: spaceRef, recursive: folder, lanes: 'auto', id };
  return direction === 'upload'
    ? { ...common, sources: [localPath], dest: remote.endsWith('/') ? remote : `${remote}/` }
    : { ...common, sources: [remote], dest: localPath.endsWith('/') ? localPath : `${localPath}/` };
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The notification's progress: the line, and the increment (percent) since `lastBytes`. */
export function progressLine(note: TransferNote, lastBytes: number): { message: string; increment: number } {
  const message = `${mib(note.bytes)} of ${mib(note.total)}, ${note.files}/${note.total_files} files, ${note.lanes} lanes`;
  const increment = note.total > 0 ? (100 * Math.max(note.bytes - lastBytes, 0)) / note.total : 0;
  return { message, increment };
}
