export function registerWebGPUTrainingKernels(): void {}
