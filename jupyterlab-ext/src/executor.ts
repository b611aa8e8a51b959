// Placeholder until its plugin lands.
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

export const executorPlugin: JupyterFrontEndPlugin<void> = {
  id: 'kaptain-jupyterlab:executor',
  autoStart: true,
  activate: () => undefined
};
