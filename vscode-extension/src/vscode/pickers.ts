/**
 * The editor's side of the pickers (the flows are in ../core/pickers.ts): a plain QuickPick for
 * the profile and region, and a live QuickPick for spaces that opens busy and fills in.
 */
import * as vscode from 'vscode';
import { Choose, LiveList } from '../core/pickers';
import { Cancelled } from '../core/rpc';
import { Space, SpaceItem } from '../core/spaces';

export const choose: Choose = async (items, title, placeHolder) =>
  vscode.window.showQuickPick([...items], { title, placeHolder });

export class SpaceQuickPick implements LiveList {
  private readonly qp = vscode.window.createQuickPick<SpaceItem | (vscode.QuickPickItem & { space?: Space })>();

  open(title: string, placeholder: string): Promise<Space> {
    const qp = this.qp;
    qp.title = title;
    qp.placeholder = placeholder;
    qp.busy = true;
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.ignoreFocusOut = true;
    const picked = new Promise<Space>((resolve, reject) => {
      qp.onDidAccept(() => {
        const item = qp.selectedItems[0];
        if (item?.space) {
          resolve(item.space);
        }
      });
      qp.onDidHide(() => reject(new Cancelled()));
    });
    qp.show();
    return picked;
  }

  fill(items: SpaceItem[], placeholder: string): void {
    this.qp.items = items;
    this.qp.busy = false;
    this.qp.placeholder = placeholder;
  }

  close(): void {
    this.qp.dispose();
  }
}
