/**
 * The daemon's log (`<state>/daemon.log`, already redacted by the daemon; the path is the daemon's) followed into an
 * output channel while the extension runs, from the moment the user first shows it.
 */
import * as fs from 'fs';
import * as vscode from 'vscode';

const TAIL_BYTES = 64 * 1024;

export class DaemonLog implements vscode.Disposable {
  private readonly channel = vscode.window.createOutputChannel('SageMaker daemon', 'log');
  private offset = -1;
  private watching: string | undefined;

  /** `path` is the daemon's own answer (`daemon.info` `log`). */
  show(path: string): void {
    if (this.watching !== path) {
      this.stop();
      this.watching = path;
      this.offset = -1;
      this.readNew();
      fs.watchFile(path, { interval: 1000 }, () => this.readNew());
    }
    this.channel.show(true);
  }

  private readNew(): void {
    if (!this.watching) {
      return;
    }
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.watching, 'r');
      const size = fs.fstatSync(fd).size;
      if (this.offset < 0) {
        this.offset = Math.max(0, size - TAIL_BYTES);
        this.channel.appendLine(`── ${this.watching} ──`);
      } else if (size < this.offset) {
        this.offset = 0; // rotated
      }
      if (size > this.offset) {
        const buf = Buffer.alloc(size - this.offset);
        fs.readSync(fd, buf, 0, buf.length, this.offset);
        this.offset = size;
        this.channel.append(buf.toString('utf8'));
      }
    } catch (err) {
      if (this.offset < 0) {
        this.channel.appendLine(`No daemon log yet at ${this.watching} (the daemon has not run).`);
        this.offset = 0;
      }
    } finally {
      if (fd !== undefined) {
        fs.closeSync(fd);
      }
    }
  }

  private stop(): void {
    if (this.watching) {
      fs.unwatchFile(this.watching);
      this.watching = undefined;
    }
  }

  dispose(): void {
    this.stop();
    this.channel.dispose();
  }
}
