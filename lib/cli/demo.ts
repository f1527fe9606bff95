/**
 * `tessera demo` (what `npm start` runs until the S3 gateway exists): walks
 * through what the native core can do on this machine and prints it.
 */
import { nativeInfo } from '../index';

export interface DemoOptions {
  json: boolean;
}

interface DemoStep {
  name: string;
  detail: string;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const info = nativeInfo();
  const steps: DemoStep[] = [
    { name: 'addon', detail: `tessera ${info.version}, Node-API ${info.napiVersion}` },
    { name: 'cpu', detail: info.cpuFeatures.join(' ') || 'no SIMD features detected' },
  ];
  if (options.json) {
    process.stdout.write(JSON.stringify({ steps }) + '\n');
    return;
  }
  for (const step of steps) process.stdout.write(`${step.name.padEnd(10)} ${step.detail}\n`);
}
