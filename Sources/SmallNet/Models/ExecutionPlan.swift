// How a Sequential runs its layers: one by one, or a run of them in one pass over memory.

/// One step of a model's execution plan: the consecutive layers `layers` (indices into the
/// model's), computed by one forward and one backward with the same contract as `Layer`'s.
protocol PlanStep: AnyObject {
    var layers: Range<Int> { get }
    /// "Linear(784 → 61)", or the fused layers' summaries joined: "BatchNorm2d(30) → ReLU → MaxPool2d(2)".
    var summary: String { get }
    func forward(_ input: Tensor, context: ExecutionContext) -> Tensor
    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor?
}

/// A layer run by itself.
final class SingleLayerStep: PlanStep {
    let layer: Layer
    let layers: Range<Int>

    init(_ layer: Layer, at index: Int) {
        self.layer = layer
        layers = index..<(index + 1)
    }

    var summary: String { layer.summary }

    func forward(_ input: Tensor, context: ExecutionContext) -> Tensor { layer.forward(input, context: context) }

    func backward(_ dOut: Tensor, needInputGradient: Bool, context: ExecutionContext) -> Tensor? {
        layer.backward(dOut, needInputGradient: needInputGradient, context: context)
    }
}

/// The steps that run `layers`, whose per-sample input shapes are `inputShapes`: with `fused`,
/// every BatchNorm2d → ReLU → MaxPool2d(2) run that `BatchNormReLUMaxPool` takes is one step,
/// joined with the Conv2d before it when `ConvolutionBlock` takes the two, every other
/// BatchNorm2d → ReLU pair is one step (`BatchNormReLU`), and every Linear → BatchNorm1d → ReLU
/// run is one step (`LinearBatchNormReLU`); every other layer is a step of its own.
func executionPlan(_ layers: [Layer], inputShapes: [[Int]], fused: Bool) -> [PlanStep] {
    var plan: [PlanStep] = []
    var i = 0
    while i < layers.count {
        if fused, i + 2 < layers.count,
           let step = BatchNormReLUMaxPool(layers[i], layers[i + 1], layers[i + 2], at: i, inputShape: inputShapes[i]) {
            if i > 0, let convolution = ConvolutionBlock(layers[i - 1], at: i - 1, inputShape: inputShapes[i - 1],
                                                         isFirst: layers[..<(i - 1)].allSatisfy { $0.parameters.isEmpty },
                                                         followedBy: step) {
                plan[plan.count - 1] = convolution
            } else {
                plan.append(step)
            }
            i += 3
        } else if fused, i + 1 < layers.count,
                  let step = BatchNormReLU(layers[i], layers[i + 1], at: i, inputShape: inputShapes[i]) {
            plan.append(step)
            i += 2
        } else if fused, i + 2 < layers.count, let step = LinearBatchNormReLU(layers[i], layers[i + 1], layers[i + 2], at: i) {
            plan.append(step)
            i += 3
        } else {
            plan.append(SingleLayerStep(layers[i], at: i))
            i += 1
        }
    }
    return plan
}
