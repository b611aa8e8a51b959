// Placeholder until its plugin lands.
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

export const runsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'kaptain-jupyterlab:runs',
  autoStart: true,
  activate: () => undefined
};
