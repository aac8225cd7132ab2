import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_STACK_NAME } from '../common/contract.js';
import { CONFIG_KEYS, parseConfig, type RawConfig } from '../lib/config.js';
import { RecorderStack } from '../lib/recorder-stack.js';

const app = new App();

// The one place context is read; parseConfig validates it all at once.
const raw: RawConfig = Object.fromEntries(CONFIG_KEYS.map((key) => [key, app.node.tryGetContext(key)]));
const region = process.env.CDK_DEFAULT_REGION ?? process.env.AWS_REGION;
const config = parseConfig(raw, { region });

new RecorderStack(app, DEFAULT_STACK_NAME, {
  config,
  description: 'Vonage call recorder: webhooks, websocket recorder and recordings bucket',
  // The CLI sets these from the AWS profile/environment; without credentials the account stays
  // unresolved (offline synth works) and the region falls back to the CLI's default. The region
  // must be concrete: ALB access-log delivery is authorized per region.
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region,
  },
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
