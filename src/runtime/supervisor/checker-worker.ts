// The supervisor's type-checker thread (checker.ts starts it): a TypeScript LanguageService over the
// handlers it is asked about. The service keeps every parsed and bound file (TypeScript's libraries,
// @types/node, the handlers' imports) between checks and re-reads only those whose version changed,
// so a deploy of a one-line change costs the check of one file, not loading the compiler and
// parsing megabytes of declarations again. Answers one message per request, in order.
import fs from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import ts from 'typescript';
import { checkOptionsFor, checkProgram } from '../handler/check.js';
import type { CheckResult, CheckerReply, CheckerRequest } from './checker.js';

/**
 * A file's version: size, inode and change time for the declarations that do not change under a
 * user; the content itself for the handlers and what sits beside them (an edit within one clock
 * tick of the last check keeps its ctime, and these files are small).
 */
function versionOf(file: string): string {
  try {
    const st = fs.statSync(file);
    if (file.includes(`${path.sep}node_modules${path.sep}`) || st.size > 1 << 20) return `${st.size}:${st.ino}:${st.ctimeMs}:${st.mtimeMs}`;
    return `${st.ino}:${fs.readFileSync(file, 'latin1')}`;
  } catch {
    return 'absent';
  }
}

class WarmChecker {
  private roots: string[] = [];
  private options: ts.CompilerOptions = {};
  private readonly service: ts.LanguageService;

  constructor() {
    const host: ts.LanguageServiceHost = {
      getScriptFileNames: () => this.roots,
      getScriptVersion: versionOf,
      getScriptSnapshot: (f) => {
        const text = ts.sys.readFile(f);
        return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
      },
      getCurrentDirectory: () => '/',
      getCompilationSettings: () => this.options,
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: ts.sys.fileExists,
      readFile: ts.sys.readFile,
      readDirectory: ts.sys.readDirectory,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
      realpath: ts.sys.realpath,
    };
    this.service = ts.createLanguageService(host, ts.createDocumentRegistry());
  }

  check(files: string[], cwd: string): CheckResult {
    const missing = files.find((f) => !fs.existsSync(f));
    if (missing) return { ok: false, message: `handler file not found: ${missing}` };
    this.roots = files;
    this.options = checkOptionsFor(files);
    const program = this.service.getProgram();
    if (!program) return { unavailable: 'the language service built no program' };
    try {
      return { ok: true, deps: checkProgram(program, files, cwd) };
    } catch (err) {
      if ((err as Error).name === 'HandlerError') return { ok: false, message: (err as Error).message };
      throw err;
    }
  }
}

const port = parentPort;
if (port) {
  const checker = new WarmChecker();
  port.on('message', (req: CheckerRequest) => {
    let reply: CheckerReply;
    try {
      reply = { ...checker.check(req.files, req.cwd), id: req.id };
    } catch (err) {
      reply = { id: req.id, unavailable: `the checker failed: ${(err as Error).message}` };
    }
    port.postMessage(reply);
  });
}
