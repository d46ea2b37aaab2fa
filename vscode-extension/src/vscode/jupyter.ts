/**
 * A Jupyter server collection ("SageMaker") in the Jupyter extension's kernel picker: one entry
 * per space; choosing one starts the space if needed and hands over the daemon's local URL.
 *
 * Registered lazily (first notebook opened, or "Attach Notebook Kernel…"), so the Jupyter
 * extension is never activated just because ours was.
 */
import type { Jupyter, JupyterServer, JupyterServerCollection, JupyterServerProvider } from '@vscode/jupyter-extension';
import * as vscode from 'vscode';
import { JupyterInfo, serverEntries } from '../core/kernels';
import { Space } from '../core/spaces';

export const JUPYTER_EXTENSION_ID = 'ms-toolsai.jupyter';

export interface KernelHost {
  listSpaces(): Promise<Space[]>;
  ensure(space: Space, token: vscode.CancellationToken): Promise<JupyterInfo>;
  reportError(err: unknown): void;
}

export class SageMakerServers implements JupyterServerProvider, vscode.Disposable {
  private collection: JupyterServerCollection | undefined;
  private registering: Promise<boolean> | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeServers = this.changed.event;
  private spaces = new Map<string, Space>();

  constructor(private readonly host: KernelHost) {}

  /** True once the collection is in the kernel picker (false: no Jupyter extension). */
  register(): Promise<boolean> {
    this.registering ??= this.doRegister();
    return this.registering;
  }

  private async doRegister(): Promise<boolean> {
    const ext = vscode.extensions.getExtension<Jupyter>(JUPYTER_EXTENSION_ID);
    if (!ext) {
      this.registering = undefined; // maybe installed later
      return false;
    }
    const api = ext.isActive ? ext.exports : await ext.activate();
    this.collection = api.createJupyterServerCollection('smconnect.spaces', 'SageMaker', this);
    return true;
  }

  refresh(): void {
    this.changed.fire();
  }

  async provideJupyterServers(): Promise<JupyterServer[]> {
    try {
      const spaces = await this.host.listSpaces();
      this.spaces = new Map(spaces.map((s) => [s.ref, s]));
      return serverEntries(spaces);
    } catch (err) {
      this.host.reportError(err);
      return [];
    }
  }

  async resolveJupyterServer(server: JupyterServer, token: vscode.CancellationToken): Promise<JupyterServer> {
    const space = this.spaces.get(server.id);
    if (!space) {
      throw new Error(`SageMaker space ${server.id} is no longer listed`);
    }
    const info = await this.host.ensure(space, token);
    return {
      id: server.id,
      label: server.label,
      connectionInformation: { baseUrl: vscode.Uri.parse(info.url), token: info.token },
    };
  }

  dispose(): void {
    this.collection?.dispose();
    this.changed.dispose();
  }
}
