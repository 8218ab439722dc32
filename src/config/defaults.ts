import { existsSync } from 'node:fs';

/**
 * The embedded default: protect sshd with the settings most servers want, reading the auth log
 * where the distribution writes one and the journal otherwise. Kept as YAML text so that
 * `warden config --default` can print exactly what runs when no file is given.
 */
export function defaultConfigYaml(): string {
  const log = ['/var/log/auth.log', '/var/log/secure'].find((p) => existsSync(p));
  const source = log
    ? `{ file: ${log} }`
    : '{ journal: { match: [SYSLOG_IDENTIFIER=sshd, SYSLOG_IDENTIFIER=sshd-session] } }';
  return `# warden embedded default configuration
state_dir: /var/lib/warden
socket: /run/warden/warden.sock
firewall: { backend: auto, table: warden }
allow: [127.0.0.0/8, "::1"]
jails:
  sshd:
    source: ${source}
    filter: sshd
    mode: normal
    maxretry: 5
    findtime: 10m
    bantime: 10m
`;
}

export const DEFAULT_CONFIG_PATH = '/etc/warden/warden.yaml';
