import type { Command } from 'commander';
import { addClientOptions, clientFrom, handled, printJson, type ClientFlags } from './output.js';

export function chatCommand(program: Command): void {
  addClientOptions(
    program
      .command('chat <command...>')
      .description(
        'answer a /jobs chat command as your token\'s principal, e.g. jobdeck chat "/jobs active" (the /jobs may be left out)',
      ),
  ).action(
    handled(async (words: string[], flags: ClientFlags) => {
      const given = words.join(' ').trim();
      const text = given.startsWith('/') ? given : `/jobs ${given}`.trim();
      const reply = await clientFrom(flags).chat(text);
      if (flags.json) return printJson({ text: reply });
      process.stdout.write(`${reply}\n`);
    }),
  );
}
