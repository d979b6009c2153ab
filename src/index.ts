// The package's public face: types for handler authors and defineConfig for faasflow.config.ts.
export type { Context, FlowContext, Handler, HandlerResult, InvokeResult, Logger, OutputPacket } from './runtime/handler/types.js';
export { defineConfig } from './config/define.js';
export type { UserConfig, UserFunction } from './config/define.js';
