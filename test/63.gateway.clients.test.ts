/**
 * Scripted sessions of the Debian S3 clients against the gateway, with the
 * exact configurations of ECOSYSTEM.md section 6: awscli 2.9.19, s3cmd
 * 2.3.0 and rclone 1.60.1. Each session makes a bucket, copies small and
 * 20 MiB (multipart) files up and down, lists, syncs, checks and removes;
 * every downloaded byte is compared. A client whose binary is absent is
 * skipped with the reason printed (CI installs them: .ci/run).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestGateway, pattern, startTestGateway } from './61.gateway.harness';

const MiB = 1024 * 1024;

function which(candidates: string[]): string | undefined {
  for (const candidate of candidates) {
    if (candidate.startsWith('/')) {
      if (existsSync(candidate)) return candidate;
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(':')) {
      if (dir.includes('pyenv')) continue;
      if (existsSync(join(dir, candidate))) return join(dir, candidate);
    }
  }
  return undefined;
}

function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env, cwd, timeout: 60_000, maxBuffer: 16 * MiB },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`),
          );
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

interface Workspace {
  dir: string;
  small: Buffer;
  big: Buffer;
}

async function workspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-clients-'));
  const small = Buffer.from('hello from a real client\n');
  const big = pattern(20 * MiB, 42);
  await writeFile(join(dir, 'small.txt'), small);
  await writeFile(join(dir, 'f20m.bin'), big);
  await mkdir(join(dir, 'tree/sub'), { recursive: true });
  await writeFile(join(dir, 'tree/a.txt'), 'a');
  await writeFile(join(dir, 'tree/sub/b.txt'), pattern(300_000, 7));
  await mkdir(join(dir, 'down'));
  return { dir, small, big };
}

async function sameFile(a: string, b: string): Promise<void> {
  assert.deepEqual(await readFile(a), await readFile(b), `${a} and ${b} differ`);
}

describe('63 gateway: real S3 clients (awscli, s3cmd, rclone) on the native store', function () {
  this.timeout(180_000);
  let t: TestGateway;
  let ws: Workspace;

  beforeEach(async () => {
    // The real product path: the native store on disk.
    t = await startTestGateway(
      { credentials: [{ accessKeyId: 'test', secretAccessKey: 'test' }] },
      'native',
    );
    ws = await workspace();
  });
  afterEach(async () => {
    await t.close();
    await rm(ws.dir, { recursive: true, force: true });
  });

  const aws = which(['/usr/bin/aws']);
  (aws ? it : it.skip)(
    'awscli 2.9 session: mb, cp small and 20 MiB multipart up and down, ls, list-objects-v2 paging, sync, rm, rb',
    async function () {
      const env = {
        PATH: '/usr/bin:/bin',
        HOME: ws.dir,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_PAGER: '',
        AWS_CONFIG_FILE: join(ws.dir, 'aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(ws.dir, 'aws-credentials'),
      };
      const cli = (...args: string[]) =>
        run(aws!, ['--endpoint-url', t.gw.url, ...args], env, ws.dir);
      await cli('s3', 'mb', 's3://awsb');
      await cli('s3', 'cp', '--only-show-errors', 'small.txt', 's3://awsb/small.txt');
      await cli('s3', 'cp', '--only-show-errors', 'f20m.bin', 's3://awsb/f20m.bin');
      const head = JSON.parse(
        (await cli('s3api', 'head-object', '--bucket', 'awsb', '--key', 'f20m.bin')).stdout,
      ) as {
        ETag: string;
        ContentLength: number;
      };
      assert.match(head.ETag, /-3"$/);
      assert.equal(head.ContentLength, 20 * MiB);
      const ls = (await cli('s3', 'ls', 's3://awsb/')).stdout;
      assert.match(ls, / 20971520 f20m\.bin/);
      assert.match(ls, / 25 small\.txt/);
      const listed = JSON.parse(
        (await cli('s3api', 'list-objects-v2', '--bucket', 'awsb', '--page-size', '1')).stdout,
      ) as {
        Contents: { Key: string }[];
      };
      assert.deepEqual(
        listed.Contents.map((c) => c.Key),
        ['f20m.bin', 'small.txt'],
      );
      await cli('s3', 'cp', '--only-show-errors', 's3://awsb/f20m.bin', 'down/f20m.bin');
      await cli('s3', 'cp', '--only-show-errors', 's3://awsb/small.txt', 'down/small.txt');
      await sameFile(join(ws.dir, 'f20m.bin'), join(ws.dir, 'down/f20m.bin'));
      await sameFile(join(ws.dir, 'small.txt'), join(ws.dir, 'down/small.txt'));
      await cli('s3', 'sync', '--only-show-errors', 'tree', 's3://awsb/tree');
      await cli('s3', 'sync', '--only-show-errors', 's3://awsb/tree', 'down/tree');
      await sameFile(join(ws.dir, 'tree/sub/b.txt'), join(ws.dir, 'down/tree/sub/b.txt'));
      const again = (await cli('s3', 'sync', 'tree', 's3://awsb/tree')).stdout;
      assert.equal(again.trim(), '', 'a second sync uploads nothing');
      await cli('s3', 'rm', '--only-show-errors', '--recursive', 's3://awsb');
      await cli('s3', 'rb', 's3://awsb');
      assert.equal(await t.store.getBucket('awsb'), undefined);
    },
  );
  if (!aws)
    console.log('      skipped awscli: /usr/bin/aws not installed (apt-get install awscli)');

  const s3cmd = which(['s3cmd']);
  (s3cmd ? it : it.skip)(
    's3cmd 2.3 session: mb, put small and 20 MiB multipart, ls (V1), get, sync, info, del --recursive, rb',
    async function () {
      const host = `127.0.0.1:${t.gw.port}`;
      const config = join(ws.dir, 's3cfg');
      await writeFile(
        config,
        [
          '[default]',
          'access_key = test',
          'secret_key = test',
          `host_base = ${host}`,
          `host_bucket = ${host}`,
          'use_https = False',
          'bucket_location = us-east-1',
          'signature_v2 = False',
          '',
        ].join('\n'),
      );
      const env = { PATH: '/usr/bin:/bin', HOME: ws.dir };
      const cli = (...args: string[]) =>
        run(s3cmd!, ['-c', config, '--no-progress', ...args], env, ws.dir);
      await cli('mb', 's3://s3cb');
      await cli('put', 'small.txt', 's3://s3cb/small.txt');
      await cli('put', 'f20m.bin', 's3://s3cb/f20m.bin');
      const buckets = (await cli('ls')).stdout;
      assert.match(buckets, /s3:\/\/s3cb/);
      const ls = (await cli('ls', 's3://s3cb/')).stdout;
      assert.match(ls, /20971520\s+s3:\/\/s3cb\/f20m\.bin/);
      assert.match(ls, /25\s+s3:\/\/s3cb\/small\.txt/);
      await cli('get', 's3://s3cb/f20m.bin', 'down/f20m.bin');
      await cli('get', 's3://s3cb/small.txt', 'down/small.txt');
      await sameFile(join(ws.dir, 'f20m.bin'), join(ws.dir, 'down/f20m.bin'));
      await sameFile(join(ws.dir, 'small.txt'), join(ws.dir, 'down/small.txt'));
      const meta = await t.store.bucket('s3cb').head('small.txt');
      assert.ok(meta?.metadata['s3cmd-attrs'], 'x-amz-meta-s3cmd-attrs round-trips');
      await cli('sync', 'tree/', 's3://s3cb/tree/');
      await cli('sync', 's3://s3cb/tree/', 'down/tree/');
      await sameFile(join(ws.dir, 'tree/sub/b.txt'), join(ws.dir, 'down/tree/sub/b.txt'));
      const info = (await cli('info', 's3://s3cb')).stdout;
      assert.match(info, /Location:\s+us-east-1/);
      assert.match(info, /Policy:\s+none/);
      assert.match(info, /CORS:\s+none/);
      assert.match(info, /ACL:\s+tessera: FULL_CONTROL/);
      await cli('del', '--recursive', '--force', 's3://s3cb');
      await cli('rb', 's3://s3cb');
      assert.equal(await t.store.getBucket('s3cb'), undefined);
    },
  );
  if (!s3cmd) console.log('      skipped s3cmd: not installed (apt-get install s3cmd)');

  const rclone = which(['rclone']);
  (rclone ? it : it.skip)(
    'rclone 1.60 session: mkdir, copyto small and 20 MiB multipart, ls (V1), sync, check, copyto down, purge',
    async function () {
      const env: NodeJS.ProcessEnv = {
        PATH: '/usr/bin:/bin',
        HOME: ws.dir,
        RCLONE_CONFIG_LOC_TYPE: 's3',
        RCLONE_CONFIG_LOC_PROVIDER: 'Other',
        RCLONE_CONFIG_LOC_ACCESS_KEY_ID: 'test',
        RCLONE_CONFIG_LOC_SECRET_ACCESS_KEY: 'test',
        RCLONE_CONFIG_LOC_ENDPOINT: t.gw.url,
        RCLONE_CONFIG_LOC_REGION: 'us-east-1',
      };
      // AWS_CA_BUNDLE breaks rclone 1.60 at start-up; the env above never carries it.
      const cli = (...args: string[]) =>
        run(rclone!, ['--config', '/dev/null', ...args], env, ws.dir);
      await cli('mkdir', 'loc:rcb');
      await cli('copyto', 'small.txt', 'loc:rcb/small.txt');
      await cli(
        'copyto',
        '--s3-upload-cutoff',
        '5M',
        '--s3-chunk-size',
        '5M',
        'f20m.bin',
        'loc:rcb/f20m.bin',
      );
      const head = await t.store.bucket('rcb').head('f20m.bin');
      assert.equal(head?.size, 20 * MiB);
      assert.ok(head?.metadata['mtime'], 'x-amz-meta-mtime round-trips');
      const ls = (await cli('ls', 'loc:rcb')).stdout;
      assert.match(ls, /20971520 f20m\.bin/);
      assert.match(ls, /25 small\.txt/);
      await cli('sync', 'tree', 'loc:rcb/tree');
      await cli('check', 'tree', 'loc:rcb/tree');
      await cli('copyto', 'loc:rcb/f20m.bin', 'down/f20m.bin');
      await cli('copyto', 'loc:rcb/small.txt', 'down/small.txt');
      await sameFile(join(ws.dir, 'f20m.bin'), join(ws.dir, 'down/f20m.bin'));
      await sameFile(join(ws.dir, 'small.txt'), join(ws.dir, 'down/small.txt'));
      await cli('check', '--download', 'tree', 'loc:rcb/tree');
      await cli('purge', 'loc:rcb');
      assert.equal(await t.store.getBucket('rcb'), undefined);
    },
  );
  if (!rclone) console.log('      skipped rclone: not installed (apt-get install rclone)');
});
