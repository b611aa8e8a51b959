// Placeholder until its plugin lands.
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'kaptain-jupyterlab:panel',
  autoStart: true,
  activate: () => undefined
};
