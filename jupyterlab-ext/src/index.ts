// The plugins, wired into JupyterLab. Each lives beside what it wires: core.ts (the wasm core
// and the connection), runs.ts (the run model, its ledger and the interrupt hooks),
// executor.ts (%%kaptain cells), panel.ts (the sidebar).
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { KaptainCore } from './core';
import { executorPlugin } from './executor';
import { panelPlugin } from './panel';
import { runsPlugin } from './runs';
import { IKaptainCore } from './tokens';

export const PLUGIN_ID = 'kaptain-jupyterlab:plugin';

const corePlugin: JupyterFrontEndPlugin<IKaptainCore> = {
  id: PLUGIN_ID,
  description: 'The kaptain wasm core, its connection to the cluster and its settings.',
  autoStart: true,
  provides: IKaptainCore,
  optional: [ISettingRegistry],
  activate: async (app: JupyterFrontEnd, registry: ISettingRegistry | null) => {
    const settings = registry ? await registry.load(PLUGIN_ID).catch(() => null) : null;
    return new KaptainCore({ settings, serverSettings: app.serviceManager.serverSettings });
  }
};

export * from './tokens';
export default [corePlugin, runsPlugin, executorPlugin, panelPlugin];
