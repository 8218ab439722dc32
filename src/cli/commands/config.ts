import { loadConfigFile } from '../../config/load.js';
import { defaultConfigYaml } from '../../config/defaults.js';
import { parse, printJson, type Command } from '../command.js';
import { UsageError } from '../usage.js';

export const configCommand: Command = {
  name: 'config',
  summary: 'print the embedded default, or check a configuration file',
  usage: `Usage: warden config --default | --check FILE [--json]

  --default     print the embedded default configuration (a starting point for /etc/warden/warden.yaml)
  --check FILE  validate FILE; exit 2 with the file, line and key of the first problem
`,
  async run(args) {
    const { values } = parse(args, { default: { type: 'boolean' }, check: { type: 'string' }, json: { type: 'boolean' } }, 0);
    if (values['default']) {
      process.stdout.write(defaultConfigYaml());
      return 0;
    }
    const file = values['check'] as string | undefined;
    if (!file) throw new UsageError('give --default or --check FILE');
    const config = loadConfigFile(file);
    if (values['json']) printJson(config);
    else process.stdout.write(`${file}: ok (${config.jails.length} jails: ${config.jails.map((j) => j.name).join(', ')})\n`);
    return 0;
  },
};
